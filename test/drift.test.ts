import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const migrations = {
  '001_users.up.sql': 'create table users (id bigint primary key, status varchar(20) not null default \'active\');',
  '001_users.down.sql': 'drop table users;',
  '002_entries.up.sql': 'create table calorie_entries (id bigserial primary key, user_id bigint not null references users, note text);',
  '002_entries.down.sql': 'drop table calorie_entries;',
};

/** Everything drift could touch: the schema as SQL, the history rows, the data. */
async function state(db: FreshDb, url: string): Promise<unknown> {
  const schema = (await runCli(['dump-schema', '--url', url])).stdout;
  const history = await db.sql`select * from sqlmig_history order by version`;
  const rows = await db.sql`select * from users order by id`;
  return { schema, history, rows };
}

test('drift on PostgreSQL: a clean database exits 0; an index added and a column altered by hand are both named (exit 3); the database is only read', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, migrations);
  const cli = (...args: string[]) => runCli([...args, '--dir', dir, '--url', db.url]);
  assert.equal((await cli('up')).code, 0);
  await db.sql`insert into users values (1, 'active')`;

  const clean = await cli('drift');
  assert.equal(clean.code, 0, clean.stderr + clean.stdout);
  assert.match(clean.stdout, /no drift: the database matches what its 2 applied migrations \(as stored in history\) make/);

  await db.sql.unsafe('create index calorie_entries_note_idx on calorie_entries (note); alter table users alter column status type varchar(30)');
  // drift replays the SQL stored in history, not the files: an edited file changes nothing here.
  writeFileSync(join(dir, '002_entries.up.sql'), 'create table calorie_entries (id bigserial primary key, user_id bigint not null references users, note text, extra int);');
  const before = await state(db, db.url);
  const r = await cli('drift');
  assert.equal(r.code, 3, r.stderr + r.stdout);
  assert.match(r.stdout, /drift: the database differs from what its 2 applied migrations \(as stored in history\) make:/);
  assert.match(r.stdout, /  - index calorie_entries_note_idx on table calorie_entries exists only in the database\n/);
  assert.match(r.stdout, /  - column users\.status type character varying\(30\) in the database, character varying\(20\) from the migrations\n/);
  assert.doesNotMatch(r.stdout, /extra/);
  assert.deepEqual(await state(db, db.url), before, 'drift changed nothing in the database');

  const json = await cli('drift', '--json');
  assert.equal(json.code, 3);
  const result = JSON.parse(json.stdout) as { drift: boolean; differences: { kind: string; object: string }[]; scratch: { kind: string; display: string } };
  assert.equal(result.drift, true);
  assert.equal(result.scratch.kind, 'temporary');
  const scratch = new URL(result.scratch.display).pathname.slice(1);
  assert.equal((await db.sql`select 1 from pg_database where datname = ${scratch}`).length, 0, 'the temporary database was dropped');
  assert.deepEqual(result.differences.map((d) => [d.kind, d.object]).sort(), [['changed', 'public.users.status'], ['extra', 'public.calorie_entries_note_idx']]);
});

test('drift on PGlite: clean exits 0, a column dropped by hand is named', async (t) => {
  const { root, dir } = writeMigrations(t, migrations);
  const url = await freshPglite(root);
  const cli = (...args: string[]) => runCli([...args, '--dir', dir, '--url', url]);
  assert.equal((await cli('up')).code, 0);
  assert.equal((await cli('drift')).code, 0);
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = new PGlite(url.slice('pglite:'.length));
  await pg.exec('alter table calorie_entries drop column note');
  await pg.close();
  const r = await cli('drift');
  assert.equal(r.code, 3, r.stderr + r.stdout);
  assert.match(r.stdout, /column calorie_entries\.note is missing from the database \(its migrations make it\)/);
});

test('drift and the online proof replay stored migrations by version, not as text: 2 before 10 before 100', async (t) => {
  // Each migration needs the one before it; as text the history reads 1, 10, 100, 11, …, 2, … and a replay fails.
  const files: Record<string, string> = { '001_t.up.sql': 'create table t (c1 int);' };
  for (let v = 2; v <= 101; v++) files[`${String(v).padStart(3, '0')}_c${v}.up.sql`] = `alter table t rename column c${v - 1} to c${v};`;
  files['102_index.up.sql'] = 'create index t_c101 on t (c101);';
  const { dir } = writeMigrations(t, files);
  const db = await freshDb(t);
  assert.equal((await runCli(['up', '--to', '101', '--dir', dir, '--url', db.url])).code, 0);
  const drift = await runCli(['drift', '--dir', dir, '--url', db.url]);
  assert.equal(drift.code, 0, drift.stdout + drift.stderr);
  assert.match(drift.stdout, /no drift: the database matches what its 101 applied migrations/);
  const online = await runCli(['up', '--online', '--dir', dir, '--url', db.url]);
  assert.equal(online.code, 0, online.stderr);
  const [index] = await db.sql`select to_regclass('public.t_c101') is not null as built`;
  assert.equal(index!['built'], true);
});

test('drift on a database sqlmig never ran on (no history table) finds no drift and reads nothing it lacks', async (t) => {
  const { dir } = writeMigrations(t, migrations);
  const db = await freshDb(t);
  const r = await runCli(['drift', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /no drift: the database matches what its 0 applied migrations/);
});
