/** What `npm publish` would ship: only the entry point, the compiled library, the README, the LICENSE and package.json. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

test('npm pack holds only bin, dist, README.md, LICENSE and package.json; the LICENSE is the one package.json names', async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repo, maxBuffer: 16 * 1024 * 1024 }, (error, out) => (error ? reject(error) : resolve(out)));
  });
  const files: string[] = JSON.parse(stdout)[0].files.map((f: { path: string }) => f.path);
  const outside = files.filter((f) => !/^(bin\/|dist\/lib\/)/.test(f) && !['README.md', 'LICENSE', 'package.json'].includes(f));
  assert.deepEqual(outside, []);
  for (const needed of ['bin/sqlmig', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/main.js', 'LICENSE', 'README.md']) assert.ok(files.includes(needed), needed);
  const pkg = JSON.parse(readFileSync(`${repo}/package.json`, 'utf8'));
  assert.equal(pkg.license, 'MIT');
  assert.match(readFileSync(`${repo}/LICENSE`, 'utf8'), /^MIT License\n/);
  assert.ok(pkg.keywords.includes('postgresql'));
});
