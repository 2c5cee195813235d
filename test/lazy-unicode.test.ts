/**
 * The CLI bundle builds yargs' Unicode objects (string-width's Intl.Segmenter and property regexes) on
 * first use, not at start-up (scripts/lazy-unicode.mjs): the widths must be what the untouched modules say.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { lazyUnicode, LAZY_HELPER } from '../scripts/lazy-unicode.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
type Width = (text: string, options?: { ambiguousIsNarrow?: boolean; countAnsiEscapeCodes?: boolean }) => number;

/** Both string-width versions yargs bundles, built with or without the plugin. */
async function widths(dir: string, lazy: boolean): Promise<{ latest: Width; cliui: Width }> {
  const entry = join(dir, 'entry.mjs');
  writeFileSync(entry, [
    `export { default as latest } from ${JSON.stringify(join(repo, 'node_modules/string-width/index.js'))};`,
    `export { default as cliui } from ${JSON.stringify(join(repo, 'node_modules/cliui/node_modules/string-width/index.js'))};`,
  ].join('\n'));
  const out = join(dir, `${lazy ? 'lazy' : 'eager'}.mjs`);
  await build({ entryPoints: [entry], outfile: out, bundle: true, format: 'esm', platform: 'node', target: 'node20', plugins: lazy ? [lazyUnicode] : [], logLevel: 'silent' });
  if (lazy) assert.doesNotMatch(readFileSync(out, 'utf8'), /^var \w+ = new (Intl\.Segmenter|RegExp)\(/m, 'the plugin left an eager Unicode object');
  return import(pathToFileURL(out).href);
}

const SAMPLES = [
  '', 'plain ascii', 'tab\there', 'ctrl\u0007bell', '古池や蛙飛び込む', 'ｈａｌｆ／ｆｕｌｌ', 'ｶﾞｷﾞ', 'é e\u0301 a\u0308\u0304',
  '👩‍👩‍👧 family', '🇯🇵🇫🇷 flags', '1️⃣ #⃣ 1\u20e3 keycaps', '❤ ❤️ ☺', '\u200bzero\u200dwidth\ufeff', '\u001b[31mred\u001b[39m text',
  '\u1100\u1161\u11a8 jamo', 'ก่ำ thai', '\ud800 lone surrogate', 'ǅ Ω ± ambiguous', '👍🏽 skin tone', '🧑‍💻 technologist',
];

test('string-width measures every sample alike with its Unicode objects built lazily or at load', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sqlmig-lazy-unicode-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const eager = await widths(dir, false);
  const lazy = await widths(dir, true);
  for (const sample of SAMPLES) {
    for (const options of [{}, { ambiguousIsNarrow: false }, { countAnsiEscapeCodes: true }]) {
      assert.equal(lazy.latest(sample, options), eager.latest(sample, options), `string-width 8 ${JSON.stringify(sample)} ${JSON.stringify(options)}`);
      assert.equal(lazy.cliui(sample, options), eager.cliui(sample, options), `string-width 7 ${JSON.stringify(sample)} ${JSON.stringify(options)}`);
    }
  }
  assert.equal(eager.latest('古池'), 4); // the comparison measures something
});

test('a lazy regular expression keeps its state: lastIndex, global match, replace, split, search', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sqlmig-lazy-helper-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'helper.mjs'), LAZY_HELPER);
  const { lazy } = await import(pathToFileURL(join(dir, 'helper.mjs')).href) as { lazy: <T>(make: () => T) => T };
  let made = 0;
  const stand = lazy(() => { made++; return /\p{Lu}/gu; });
  const real = /\p{Lu}/gu;
  assert.equal(made, 0, 'made before first use');
  const text = 'aBcDÉf';
  assert.equal(stand.test(text), real.test(text));
  assert.equal(stand.lastIndex, real.lastIndex);
  stand.lastIndex = 0;
  real.lastIndex = 0;
  assert.deepEqual(text.match(stand), text.match(real));
  assert.equal(text.replace(stand, '_'), text.replace(real, '_'));
  assert.deepEqual(text.split(stand), text.split(real));
  assert.equal(text.search(stand), text.search(real));
  assert.deepEqual([...text.matchAll(stand)].map((m) => m.index), [...text.matchAll(real)].map((m) => m.index));
  assert.equal(stand.flags, 'gu');
  assert.ok(stand instanceof RegExp);
  assert.equal(made, 1);
});

test('the shipped CLI bundle builds no Intl.Segmenter or Unicode-property regex at load', () => {
  const bundle = readFileSync(join(repo, 'dist/cli/main.js'), 'utf8');
  assert.doesNotMatch(bundle, /^var \w+ = new Intl\.Segmenter\(/m);
  assert.doesNotMatch(bundle, /^var \w+ = (new RegExp\("[^"]*\\\\p\{|\/[^\n]*\\p\{)/m);
  assert.match(bundle, /lazy\(\(\) => new Intl\.Segmenter\(\)\)/); // yargs still measures help text with it
});
