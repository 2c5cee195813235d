import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCli } from './support/helpers.js';

const section = (text: string, title: string) => text.split(/\n(?=\S[^\n]*:\n)/).find((s) => s.startsWith(title)) ?? '';

test('up --help: its own flags first, then the global group, then the fleet group, then examples', async () => {
  const r = await runCli(['up', '--help']);
  assert.equal(r.code, 0, r.stderr);
  const order = ['Options:', 'Global options:', 'Fleet options', 'Examples:'].map((h) => r.stdout.indexOf(`\n${h}`));
  assert.ok(order.every((i, n) => i > 0 && (n === 0 || i > order[n - 1]!)), r.stdout);
  const own = section(r.stdout, 'Options:');
  for (const flag of ['--to', '--step', '--dry-run', '--backup']) assert.match(own, new RegExp(`${flag}\\b`));
  assert.doesNotMatch(own, /--url|--json|--targets/);
  assert.match(section(r.stdout, 'Global options:'), /--url[\s\S]*--version[\s\S]*/);
  assert.match(section(r.stdout, 'Fleet options'), /--targets[\s\S]*--yes-all-targets/);
  assert.match(r.stdout, /Examples:\n\s+sqlmig up /);
});

test('every command has an example; `sqlmig help up` is `sqlmig up --help`', async () => {
  const top = await runCli(['--help']);
  const commands = [...top.stdout.matchAll(/^ {2}sqlmig ([a-z-]+)/gm)].map((m) => m[1]!).filter((c) => c !== 'help' && c !== 'completion');
  assert.ok(commands.length >= 19, top.stdout);
  for (const command of commands) {
    const r = await runCli([command, '--help']);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Examples:\\n\\s+sqlmig ${command}\\b`), `${command} --help has no example`);
  }
  const viaHelp = await runCli(['help', 'up']);
  assert.equal(viaHelp.code, 0);
  assert.equal(viaHelp.stdout, (await runCli(['up', '--help'])).stdout);
});

test('--version and -V are listed and print the version', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const help = await runCli(['--help']);
  assert.match(help.stdout, /-V, --version/);
  const r = await runCli(['status', '-V']);
  assert.equal(r.stdout, `${version}\n`);
});

test('a mistyped flag names the right one, as typed, never an internal camelCase name', async () => {
  for (const typed of ['--dryrun', '--dry-rn', '--dryRn']) {
    const r = await runCli(['up', typed, '--url', 'pglite:memory']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `error: unknown flag ${typed}: did you mean --dry-run? (sqlmig up --help lists the flags)\n`);
  }
  const global = await runCli(['status', '--verbos']);
  assert.match(global.stderr, /unknown flag --verbos: did you mean --verbose\?/);
  const far = await runCli(['status', '--frobnicate']);
  assert.equal(far.stderr, 'error: unknown flag --frobnicate (sqlmig status --help lists the flags)\n');
  const extra = await runCli(['status', 'now']);
  assert.match(extra.stderr, /unexpected argument now \(sqlmig status --help shows what it takes\)/);
});

test('sqlmig completion prints a bash/zsh completion script that completes commands and flags', async () => {
  const r = await runCli(['completion']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sqlmig completion >> ~\/\.bashrc/);
  assert.match(r.stdout, /complete -o bashdefault -o default -F _sqlmig_yargs_completions sqlmig/);
  const words = await runCli(['--get-yargs-completions', 'up', '--dr']);
  assert.match(words.stdout, /--dry-run/);
});
