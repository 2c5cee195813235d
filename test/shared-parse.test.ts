/**
 * up parses each file once: its lint hook reads the parse trees the runner made instead of parsing
 * again. The shortcut must not change a finding: with and without the runner's trees, and through
 * the hook against `sqlmig lint` on the same files.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDirectives } from '../lib/migrations/directives.js';
import { prepareScript } from '../lib/migrations/script.js';
import { loadParser } from '../lib/migrations/sql.js';
import { emptySchema } from '../lib/lint/known.js';
import { lintSources, type LintSource } from '../lib/lint/runner.js';
import type { TableSize } from '../lib/lint/types.js';
import { closeAdmin, freshPglite, runCli, writeMigrations } from './support/helpers.js';
import { CASES_DIR } from './support/lint-cases.js';

after(closeAdmin);

const base = readFileSync(join(CASES_DIR, 'base.sql'), 'utf8');
const caseNames = readdirSync(join(CASES_DIR, 'cases')).filter((f) => f.endsWith('.sql')).sort();

test('the labelled set: the runner keeps the very tree the parser gives, and lint finds the same with it as parsing itself', async () => {
  const lib = await loadParser();
  assert.ok(caseNames.length >= 60, `${caseNames.length} cases`);
  let findings = 0;
  for (const name of caseNames) {
    const file = join(CASES_DIR, 'cases', name);
    const text = readFileSync(file, 'utf8');
    const noTransaction = readDirectives(text, name).noTransaction;
    const script = await prepareScript({ path: name, text, noTransaction, direction: 'up', keepTree: true }).catch(() => null);
    if (!script) continue; // a file up refuses (transaction control, COPY FROM STDIN) never reaches its lint hook
    assert.deepEqual(script.tree, lib.parseSync(text), `${name}: the kept tree is the parser's`);
    const sizes = new Map<string, TableSize>([...text.matchAll(/^-- case: size (\S+) (\d+) (\d+)$/gm)].map((m) => [m[1]!, { rows: Number(m[2]), bytes: Number(m[3]) }]));
    const lintWith = async (tree: LintSource['tree']) => (await lintSources({
      steps: [{ replay: { id: '000_base', text: base, fresh: false } }, { lint: { path: name, file, id: '001_case', text, transactional: !noTransaction, ...(tree ? { tree } : {}) } }],
      schema: emptySchema(), fresh: false, lockTimeout: !/^-- case: no-lock-timeout$/m.test(text), sizes, squawk: false,
    })).findings;
    const shared = await lintWith(script.tree);
    assert.deepEqual(shared, await lintWith(undefined), `${name}: the same findings with the runner's tree`);
    findings += shared.length;
  }
  assert.ok(findings >= 30, `${findings} findings compared`);
});

test('up --dry-run: the lint hook (the runner\'s trees) says exactly the findings `sqlmig lint` (its own parse) gives on the same pending files', async (t) => {
  const { root, dir } = writeMigrations(t, { '001_base.up.sql': base });
  caseNames.forEach((name, i) => cpSync(join(CASES_DIR, 'cases', name), join(dir, `${String(i + 2).padStart(3, '0')}_${name.replace(/^\d+_/, '').replace(/\.sql$/, '')}.up.sql`)));
  const url = await freshPglite(root);
  const base1 = await runCli(['up', '--to', '1', '--lint=off', '--dir', dir, '--url', url]);
  assert.equal(base1.code, 0, base1.stderr);

  const hook = await runCli(['up', '--dry-run', '--dir', dir, '--url', url]);
  assert.equal(hook.code, 0, hook.stderr);
  const told = hook.stderr.split('\n').filter((l) => /^ {2}\S+\.up\.sql:\d+:\d+ {2}/.test(l)).map((l) => l.trim().replace(/ \((warning|error)\)$/, '')).sort();

  const lint = await runCli(['lint', '--format', 'json', '--dir', dir, '--url', url]);
  assert.ok(lint.code === 0 || lint.code === 3, lint.stderr);
  const findings = (JSON.parse(lint.stdout) as { findings: { file: string; line: number; col: number; rule: string; message: string }[] }).findings;
  const own = findings.map((f) => `${f.file}:${f.line}:${f.col}  ${f.rule}  ${f.message}`).sort();

  assert.ok(own.length >= 60, `${own.length} findings`);
  assert.deepEqual(told, own);
  assert.match(hook.stderr, new RegExp(`^lint: ${own.length} findings in the migrations about to run`, 'm'));
  const off = await runCli(['up', '--dry-run', '--lint=off', '--dir', dir, '--url', url]);
  assert.equal(off.code, 0, off.stderr);
  assert.doesNotMatch(off.stderr, /lint:/);
});
