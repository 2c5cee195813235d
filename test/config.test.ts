/**
 * Which database and which settings: empty names, pglite: folders behind symbolic links, read-only commands
 * on an embedded folder that does not exist yet, a malformed package.json on the way up, and the published
 * typings compiled as a user's project would compile them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMigrator, UsageError } from '../lib/index.js';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const MIGRATIONS = { '001_users.up.sql': 'create table users (id int primary key);', '001_users.down.sql': 'drop table users;' };
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

test('an empty --table or --schema is refused naming the flag (exit 2), as is one from package.json', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, MIGRATIONS);
  for (const flag of ['--table', '--schema']) {
    const r = await runCli(['up', '--dir', dir, '--url', db.url, flag, '']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`error: ${flag}: expected a name, got ""; give a name or leave it out for the default`));
  }
  const long = await runCli(['status', '--dir', dir, '--url', db.url, '--table', 'x'.repeat(64)]);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /--table: "x{64}" is longer than PostgreSQL's 63-byte limit/);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'app', sqlmig: { table: '' } }));
  const fromConfig = await runCli(['status', '--url', db.url], { cwd: root });
  assert.equal(fromConfig.code, 2);
  assert.match(fromConfig.stderr, /package\.json "sqlmig"\.table: expected a name/);
  assert.throws(() => createMigrator({ url: db.url, dir, table: '' }), (e: unknown) => e instanceof UsageError && /^table: expected a name/.test(e.message));
  // The library names its own option, not the CLI's flag.
  assert.throws(() => createMigrator({ url: 'mysql://x', dir }), (e: unknown) => e instanceof UsageError && /^url: expected postgres:\/\//.test(e.message));
  assert.throws(() => createMigrator({ url: 'pglite:', dir }), (e: unknown) => e instanceof UsageError && /^url: pglite: needs a folder/.test(e.message));
  const [{ n }] = await db.sql`select count(*)::int as n from pg_tables where schemaname = 'public'`;
  assert.equal(n, 0);
});

test('pglite: behind a symbolic link uses the folder it points to; a dangling link or a file is refused (exit 2)', async (t) => {
  const { root, dir } = writeMigrations(t, MIGRATIONS);
  const real = (await freshPglite(root)).slice('pglite:'.length);
  symlinkSync(real, join(root, 'link'));
  const up = await runCli(['up', '--dir', dir, '--url', 'pglite:link'], { cwd: root });
  assert.equal(up.code, 0, up.stderr);
  assert.ok(lstatSync(join(root, 'link')).isSymbolicLink(), 'the link is still a link');
  const status = await runCli(['status', '--json', '--dir', dir, '--url', `pglite:${real}`]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).migrations[0].state, 'applied');

  mkdirSync(join(root, 'empty'));
  symlinkSync(join(root, 'empty'), join(root, 'link-to-empty'));
  const created = await runCli(['up', '--dir', dir, '--url', 'pglite:link-to-empty'], { cwd: root });
  assert.equal(created.code, 0, created.stderr);
  assert.ok(lstatSync(join(root, 'link-to-empty')).isSymbolicLink(), 'the link was not replaced by a folder');
  assert.ok(existsSync(join(root, 'empty', 'PG_VERSION')), 'the database is where the link points');

  symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
  const dangling = await runCli(['status', '--dir', dir, '--url', 'pglite:dangling'], { cwd: root });
  assert.equal(dangling.code, 2);
  assert.match(dangling.stderr, /--url: pglite:dangling is a symbolic link to .*nowhere, which does not exist; create that folder, or point pglite: at a folder/);
  assert.ok(!existsSync(join(root, 'nowhere')));
  writeFileSync(join(root, 'file'), 'x');
  symlinkSync(join(root, 'file'), join(root, 'link-to-file'));
  for (const [url, message] of [['pglite:file', /pglite:file is a file, not a folder/], ['pglite:link-to-file', /symbolic link to .*file, which is not a folder/]] as const) {
    const r = await runCli(['status', '--dir', dir, '--url', url], { cwd: root });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

test('read-only commands and dry runs on a pglite folder that does not exist yet create nothing and see an empty database', async (t) => {
  const { root, dir } = writeMigrations(t, MIGRATIONS);
  const url = `pglite:${join(root, 'state', 'dev')}`;
  const run = (args: string[]) => runCli([...args, '--dir', dir, '--url', url, '--json']);
  const dry = await run(['up', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(JSON.parse(dry.stdout).dryRun.map((p: { version: string }) => p.version), ['001']);
  const downDry = await run(['down', '--dry-run']);
  assert.equal(downDry.code, 0, downDry.stderr);
  const status = await run(['status']);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(JSON.parse(status.stdout).migrations.map((m: { state: string }) => m.state), ['pending']);
  for (const command of ['current', 'history', 'validate']) {
    const r = await run([command]);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
  }
  const check = await run(['status', '--check']);
  assert.equal(check.code, 7);
  assert.ok(!existsSync(join(root, 'state')), 'nothing was created, not even the parent folder');
  // The first real up creates it.
  const up = await run(['up']);
  assert.equal(up.code, 0, up.stderr);
  assert.ok(existsSync(join(root, 'state', 'dev', 'PG_VERSION')));
});

test('a malformed package.json on the way up: skipped with a warning when it holds no sqlmig settings; exit 2 only when its settings would be used', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, MIGRATIONS);
  const project = join(root, 'project');
  mkdirSync(project);
  writeFileSync(join(root, 'package.json'), '{ "name": "parent", ');
  const r = await runCli(['status', '--dir', dir, '--url', db.url], { cwd: project });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: .*package\.json is not valid JSON \(.*\); it holds no "sqlmig" settings, so it was skipped/);
  // Malformed in the project, a valid config above it: that config is used.
  writeFileSync(join(project, 'package.json'), '{ "name": "p" ');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'parent', sqlmig: { url: db.url, dir: 'sql' } }));
  const fromConfig = await runCli(['status', '--json'], { cwd: project });
  assert.equal(fromConfig.code, 0, fromConfig.stderr);
  assert.equal(JSON.parse(fromConfig.stdout).migrations[0].state, 'pending');
  assert.match(fromConfig.stderr, /warning: .*project\/package\.json is not valid JSON/);

  writeFileSync(join(project, 'package.json'), '{ "name": "p", "sqlmig": { "url": "pglite:x", } }');
  const needed = await runCli(['status', '--url', db.url, '--dir', dir], { cwd: project });
  assert.equal(needed.code, 2);
  assert.match(needed.stderr, /project\/package\.json: not valid JSON \(.*\), so its "sqlmig" settings cannot be read\. Fix the file, or give --schema, --table to run without it\./);
  const given = await runCli(['status', '--url', db.url, '--dir', dir, '--schema', 'public', '--table', 'sqlmig_history'], { cwd: project });
  assert.equal(given.code, 0, given.stderr);
  assert.match(given.stderr, /warning: .*its "sqlmig" settings were ignored/);
});

test('the published typings compile in a strict project without skipLibCheck', async (t) => {
  const project = mkdtempSync(join(tmpdir(), 'sqlmig-consumer-'));
  t.after(() => rmSync(project, { recursive: true, force: true }));
  mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(repoRoot, join(project, 'node_modules', 'sqlmig'));
  symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module' }));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false },
    files: ['main.ts'],
  }));
  writeFileSync(join(project, 'main.ts'), [
    "import { createMigrator, SqlmigError, type MigratorOptions, type StatusResult, type MigrateResult } from 'sqlmig';",
    "const options: MigratorOptions = { url: 'pglite:memory', dir: 'sql', onStep: (e) => console.log(e.type) };",
    'const migrator = createMigrator(options);',
    'const status: StatusResult = await migrator.status();',
    'const result: MigrateResult = await migrator.up({ dryRun: true });',
    'try { await migrator.down(); } catch (e) { if (e instanceof SqlmigError) console.log(e.exitCode); }',
    'console.log(status.pending, result.applied.length);',
  ].join('\n'));
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const out = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, [tsc, '-p', project], (error, stdout, stderr) => resolve({ code: error ? Number(error.code) || 1 : 0, output: stdout + stderr }));
  });
  assert.equal(out.code, 0, out.output);
});
