/**
 * What a newcomer copies works: the README's quick start and the fitbud walk-through
 * (examples/fitbud/README.md) are run command by command, as written, on embedded PGlite databases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectedLines, readSteps, runStep } from './support/console-blocks.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

async function walk(t: { after(fn: () => void): void }, file: string, options: { copy?: string; placeholder: string; from?: RegExp; to?: RegExp }) {
  const steps = readSteps(join(repo, file), options.from, options.to);
  assert.ok(steps.length >= 5, `${file}: console blocks found`);
  const cwd = mkdtempSync(join(tmpdir(), 'sqlmig-walk-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  if (options.copy) cpSync(join(repo, options.copy), cwd, { recursive: true });
  for (const step of steps) {
    const got = await runStep(step, cwd, options.placeholder);
    assert.deepEqual(got, expectedLines(step), `${file}:${step.line}: $ ${step.command.split('\n')[0]}`);
  }
}

test('the README quick start runs as written in an empty folder', async (t) => {
  await walk(t, 'README.md', { placeholder: '/home/you/app', from: /^## Quick start/, to: /^## (?!Quick start)/ });
});

test('the fitbud walk-through runs as written from examples/fitbud', async (t) => {
  await walk(t, 'examples/fitbud/README.md', { copy: 'examples/fitbud', placeholder: '/home/you/sqlmig/try/fitbud' });
});
