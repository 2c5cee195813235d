/** A .down.sql edited after its migration was applied: down says so (the file wins, --stored-down runs the stored one); status shows it. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

test('down with an edited .down.sql warns and runs the file; --stored-down runs the stored one; status shows "down edited"', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_a.up.sql': 'create table a (id int);',
    '001_a.down.sql': 'drop table a;',
    '002_b.up.sql': 'create table b (id int);',
    '002_b.down.sql': 'drop table b;',
  });
  const cli = (...args: string[]) => runCli([...args, '--url', db.url, '--dir', dir]);
  const exists = async (name: string) => (await db.sql`select to_regclass(${name}) is not null as found`)[0]!['found'];
  assert.equal((await cli('up')).code, 0);
  const untouched = await cli('status');
  assert.doesNotMatch(untouched.stdout, /down edited/);

  writeFileSync(join(dir, '002_b.down.sql'), 'drop table b; create table from_file (id int);');
  const status = await cli('status');
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /applied\s+002_b .*\(down edited\)/);
  assert.doesNotMatch(status.stdout, /001_a.*down edited/);
  const json = JSON.parse((await cli('status', '--json')).stdout);
  assert.deepEqual(json.migrations.map((m: { downEdited?: boolean }) => Boolean(m.downEdited)), [false, true]);

  const down = await cli('down');
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stderr, /002_b\.down\.sql was edited since 002_b was applied: running the file as it is now, not the down SQL stored then\. Add --stored-down/);
  assert.equal(await exists('from_file'), true);
  await db.sql`drop table from_file`;

  // Applied again, it stores the file as it is now; then edited once more.
  assert.equal((await cli('up')).code, 0);
  writeFileSync(join(dir, '002_b.down.sql'), 'drop table b; create table edited_again (id int);');
  const stored = await cli('down', '--stored-down');
  assert.equal(stored.code, 0, stored.stderr);
  assert.doesNotMatch(stored.stderr, /running the file as it is now/);
  assert.equal(await exists('from_file'), true, 'the stored down SQL ran');
  assert.equal(await exists('edited_again'), false);
  assert.equal(await exists('b'), false);
});
