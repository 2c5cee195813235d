import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, spawnCli, writeMigrations } from './support/helpers.js';

const files = { '001_t.up.sql': 'create table t (id int);', '001_t.down.sql': 'drop table t;' };

test('a new embedded database is made once, cached, and later ones start from the cache', async (t) => {
  const { dir, root } = writeMigrations(t, files);
  const env = { XDG_CACHE_HOME: join(root, 'cache') };
  const first = await runCli(['up', '--dir', dir, '--url', `pglite:${join(root, 'one')}`], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /creating the embedded database/);
  const cached = readdirSync(join(root, 'cache', 'sqlmig'));
  assert.equal(cached.length, 1);
  assert.match(cached[0]!, /^pglite-[\d.]+-empty\.tar\.gz$/);
  const second = await runCli(['up', '--dir', dir, '--url', `pglite:${join(root, 'two')}`], { env });
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /creating the embedded database/);
  assert.equal((await runCli(['current', '--dir', dir, '--url', `pglite:${join(root, 'two')}`], { env })).stdout.trim(), '001_t (head)');
  const memory = await runCli(['up', '--dir', dir, '--url', 'pglite:memory'], { env });
  assert.equal(memory.code, 0, memory.stderr);
});

test('a damaged cache is ignored and replaced; the run still succeeds', async (t) => {
  const { dir, root } = writeMigrations(t, files);
  const cacheDir = join(root, 'cache', 'sqlmig');
  mkdirSync(cacheDir, { recursive: true });
  const { dependencies } = (await import('../package.json', { with: { type: 'json' } })).default as { dependencies: Record<string, string> };
  const file = join(cacheDir, `pglite-${dependencies['@electric-sql/pglite']}-empty.tar.gz`);
  writeFileSync(file, 'not a tarball');
  const r = await runCli(['up', '--dir', dir, '--url', `pglite:${join(root, 'db')}`], { env: { XDG_CACHE_HOME: join(root, 'cache') } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(file) && statSync(file).size > 1000, 'the damaged cache was replaced by a real one');
});

test('a cache folder that cannot be created (under /proc) is ignored: the run succeeds and does not hang', { skip: !existsSync('/proc/self') && 'no /proc here' }, async (t) => {
  const { dir, root } = writeMigrations(t, files);
  const run = spawnCli(['up', '--dir', dir, '--url', `pglite:${join(root, 'db')}`], { env: { XDG_CACHE_HOME: '/proc/sqlmig-no-such/cache' } });
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 120_000); // a hang ends as code 137, not as a stuck test
  const r = await run.done;
  clearTimeout(timer);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /applied\s+001_t/);
});
