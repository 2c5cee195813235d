/**
 * Configuration outside package.json: sqlmig.config.json / .sqlmigrc.json found walking up, --config FILE,
 * ${VAR} in values, DATABASE_URL from .env when the environment lacks it, and flags > env > config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, writeMigrations } from './support/helpers.js';

const MIGRATIONS = { '001_users.up.sql': 'create table users (id int primary key);', '001_users.down.sql': 'drop table users;' };

/** A project with a deeper working folder; the config is written by each test. */
function project(t: Parameters<typeof writeMigrations>[0]) {
  const { root, dir } = writeMigrations(t, MIGRATIONS);
  const deep = join(root, 'app', 'src');
  mkdirSync(deep, { recursive: true });
  return { root, dir, deep };
}

const verboseDb = (stderr: string) => /database (\S+);/.exec(stderr)?.[1];

test('sqlmig.config.json is found walking up; its paths are relative to it; no package.json needed', async (t) => {
  const { root, deep } = project(t);
  writeFileSync(join(root, 'sqlmig.config.json'), JSON.stringify({ url: 'pglite:db', dir: 'sql', table: 'migrations' }));
  const up = await runCli(['up', '--verbose'], { cwd: deep });
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /applied +001_users/);
  assert.equal(verboseDb(up.stderr), `pglite:${join(root, 'db')}`);
  assert.match(up.stderr, new RegExp(`history public\\.migrations; config ${join(root, 'sqlmig.config.json').replace(/[.]/g, '\\.')}`));
});

test('.sqlmigrc.json works the same; in one folder sqlmig.config.json wins, and the nearest folder beats a farther one', async (t) => {
  const { root, deep } = project(t);
  writeFileSync(join(root, '.sqlmigrc.json'), JSON.stringify({ url: 'pglite:rc', dir: 'sql' }));
  const rc = await runCli(['status', '--verbose'], { cwd: deep });
  assert.equal(rc.code, 0, rc.stderr);
  assert.equal(verboseDb(rc.stderr), `pglite:${join(root, 'rc')}`);
  writeFileSync(join(root, 'sqlmig.config.json'), JSON.stringify({ url: 'pglite:main', dir: 'sql' }));
  assert.equal(verboseDb((await runCli(['status', '--verbose'], { cwd: deep })).stderr), `pglite:${join(root, 'main')}`);
  writeFileSync(join(root, 'app', 'package.json'), JSON.stringify({ name: 'app', sqlmig: { url: 'pglite:near', dir: '../sql' } }));
  assert.equal(verboseDb((await runCli(['status', '--verbose'], { cwd: deep })).stderr), `pglite:${join(root, 'app', 'near')}`);
});

test('flags beat the environment, which beats the config file', async (t) => {
  const { root, deep } = project(t);
  writeFileSync(join(root, 'sqlmig.config.json'), JSON.stringify({ url: 'pglite:fromconfig', dir: 'sql' }));
  const env = { DATABASE_URL: `pglite:${join(root, 'fromenv')}` };
  assert.equal(verboseDb((await runCli(['status', '--verbose'], { cwd: deep, env })).stderr), `pglite:${join(root, 'fromenv')}`);
  const flag = await runCli(['status', '--verbose', '--url', `pglite:${join(root, 'fromflag')}`], { cwd: deep, env });
  assert.equal(verboseDb(flag.stderr), `pglite:${join(root, 'fromflag')}`);
});

test('--config FILE is used instead of searching; a package.json given to it means its "sqlmig" key; a missing file is exit 2', async (t) => {
  const { root, deep } = project(t);
  writeFileSync(join(root, 'sqlmig.config.json'), JSON.stringify({ url: 'pglite:searched', dir: 'sql' }));
  mkdirSync(join(root, 'ci'));
  writeFileSync(join(root, 'ci', 'staging.json'), JSON.stringify({ url: 'pglite:staging', dir: '../sql' }));
  const given = await runCli(['status', '--verbose', '--config', join(root, 'ci', 'staging.json')], { cwd: deep });
  assert.equal(given.code, 0, given.stderr);
  assert.equal(verboseDb(given.stderr), `pglite:${join(root, 'ci', 'staging')}`);
  writeFileSync(join(root, 'ci', 'package.json'), JSON.stringify({ name: 'x', sqlmig: { url: 'pglite:pkg', dir: '../sql' } }));
  assert.equal(verboseDb((await runCli(['status', '--verbose', '--config', '../../ci/package.json'], { cwd: deep })).stderr), `pglite:${join(root, 'ci', 'pkg')}`);
  const missing = await runCli(['status', '--config', 'nope.json'], { cwd: deep });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--config nope\.json: cannot read it \(ENOENT\)/);
  writeFileSync(join(root, 'ci', 'bad.json'), '{ "url": ');
  const bad = await runCli(['status', '--config', join(root, 'ci', 'bad.json')], { cwd: deep });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad\.json: not valid JSON/);
});

test('${VAR} in config values comes from the environment, then .env; an unset one is named (exit 2), but only when used', async (t) => {
  const { root, deep } = project(t);
  writeFileSync(join(root, 'sqlmig.config.json'), JSON.stringify({ url: 'pglite:${DB_FOLDER}', dir: '${MIG_DIR}' }));
  const env = { MIG_DIR: 'sql' };
  const unset = await runCli(['status'], { cwd: deep, env });
  assert.equal(unset.code, 2);
  assert.match(unset.stderr, /sqlmig\.config\.json "url": \$\{DB_FOLDER\} is not set \(or empty\) in the environment or \.env/);
  const overridden = await runCli(['status', '--url', 'pglite:memory'], { cwd: deep, env });
  assert.equal(overridden.code, 0, overridden.stderr);
  const set = await runCli(['status', '--verbose'], { cwd: deep, env: { ...env, DB_FOLDER: 'dev' } });
  assert.equal(verboseDb(set.stderr), `pglite:${join(root, 'dev')}`);
  writeFileSync(join(root, '.env'), 'DB_FOLDER=fromdotenv\n');
  assert.equal(verboseDb((await runCli(['status', '--verbose'], { cwd: deep, env })).stderr), `pglite:${join(root, 'fromdotenv')}`);
});

test('DATABASE_URL from .env when the environment lacks it, said with --verbose; the environment wins', async (t) => {
  const { root, dir } = project(t);
  writeFileSync(join(root, '.env'), `# local settings\nDATABASE_URL="pglite:${join(root, 'dotenv')}"\nOTHER=1\n`);
  const r = await runCli(['up', '--dir', dir, '--verbose'], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`DATABASE_URL from ${join(root, '.env').replace(/[.]/g, '\\.')} \\(the environment has none\\)`));
  assert.equal(verboseDb(r.stderr), `pglite:${join(root, 'dotenv')}`);
  const env = await runCli(['status', '--dir', dir, '--verbose'], { cwd: root, env: { DATABASE_URL: 'pglite:memory' } });
  assert.equal(verboseDb(env.stderr), 'pglite:memory');
  assert.doesNotMatch(env.stderr, /from .*\.env/);
});

test('an empty --url says the flag was given empty, not that no database is configured', async (t) => {
  const { root } = project(t);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'app', sqlmig: { url: 'pglite:db' } }));
  const r = await runCli(['status', '--url', ''], { cwd: root });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--url was given empty/);
  assert.doesNotMatch(r.stderr, /add "sqlmig"/);
});
