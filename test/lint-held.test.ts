import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMigrator, type Finding } from '../lib/index.js';
import { closeAdmin, freshDb, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const BASE = `create table users (id int primary key, email text, status text);
create table orders (id bigint primary key, user_id int, note text);
create type mood as enum ('happy', 'sad');`;

async function lint002(t: Parameters<typeof writeMigrations>[0], sql: string): Promise<Finding[]> {
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_change.up.sql': sql });
  const r = await createMigrator({ dir, target: null, ddlLockTimeoutMs: 5000 }).lint({ all: true });
  return r.findings.filter((f) => f.file.endsWith('002_change.up.sql'));
}
const brief = (fs: Finding[]) => fs.map((f) => `${f.rule} ${f.level} ${f.line}:${f.col}`);
const NO_TX = '-- sqlmig:no-transaction\n';

test('backfill-under-lock names the mode the earlier statement holds: writes only for a foreign key, a trigger or an index', async (t) => {
  const cases: [string, RegExp][] = [
    ['alter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid;\nupdate orders set note = \'\';', /updates orders while line 1 holds its lock on orders until COMMIT: writes are blocked \(SHARE ROW EXCLUSIVE\)/],
    ['alter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid;\nupdate users set status = \'\';', /updates users while line 1 holds its lock on users until COMMIT: writes are blocked \(SHARE ROW EXCLUSIVE\)/],
    ['create table payments (id int primary key, user_id int references users (id));\ndelete from users where status is null;', /deletes from users while line 1 .*: writes are blocked \(SHARE ROW EXCLUSIVE\)/],
    ['create index orders_note_idx on orders (note);\nupdate orders set note = \'\';', /writes are blocked \(SHARE\)/],
    ["create function touch() returns trigger language plpgsql as $$ begin return new; end $$;\ncreate trigger orders_touch before update on orders for each row execute function touch();\nupdate orders set note = '';", /line 2 .*: writes are blocked \(SHARE ROW EXCLUSIVE\)/],
    ['alter table orders add column total int, add constraint orders_user_fk foreign key (user_id) references users (id);\nupdate orders set total = 0;', /reads and writes are blocked \(ACCESS EXCLUSIVE\)/],
    ['lock table users in exclusive mode;\nupdate users set status = \'\';', /writes are blocked \(EXCLUSIVE\)/],
  ];
  for (const [sql, message] of cases) {
    const found = (await lint002(t, sql)).filter((f) => f.rule === 'backfill-under-lock');
    assert.equal(found.length, 1, sql);
    assert.match(found[0]!.message, message, sql);
  }
});

test('NOT VALID then VALIDATE in one transactional file: the ADD\'s lock is held while VALIDATE scans (names the ADD\'s line); split, it is clean', async (t) => {
  const bad = 'alter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid;\n\nalter table orders validate constraint orders_user_fk;';
  const found = await lint002(t, bad);
  assert.deepEqual(brief(found), ['validate-in-transaction error 3:1']);
  assert.match(found[0]!.message, /validates orders_user_fk in the transaction that added it NOT VALID on line 1: that lock is still held while VALIDATE scans orders/);
  assert.match(found[0]!.recipe, /migration of its own|sqlmig:no-transaction/);
  assert.deepEqual(brief(await lint002(t, NO_TX + bad)), []);
  const recipe = 'alter table users add constraint users_email_nn check (email is not null) not valid;\nalter table users validate constraint users_email_nn;\nalter table users alter column email set not null;';
  assert.deepEqual(brief(await lint002(t, recipe)), ['validate-in-transaction error 2:1'], 'the CHECK → SET NOT NULL recipe in one file');
  assert.deepEqual(brief(await lint002(t, NO_TX + recipe)), []);
});

test('a data change after a lock on the same table in the same transaction: the table stays locked for the whole backfill', async (t) => {
  const found = await lint002(t, 'alter table users add column score int;\nupdate users set score = 0;\ndelete from orders where note is null;\ninsert into users (id) select id + 1000 from users;');
  assert.deepEqual(brief(found), ['backfill-under-lock error 2:1', 'backfill-under-lock error 4:1']);
  assert.match(found[0]!.message, /^updates users while line 1 holds its lock on users until COMMIT: reads and writes are blocked \(ACCESS EXCLUSIVE\)/);
  const index = await lint002(t, `${NO_TX}create index concurrently orders_note_idx on orders (note);\nupdate orders set note = '' where note is null;`);
  assert.deepEqual(brief(index), [], 'CREATE INDEX CONCURRENTLY in a no-transaction file holds nothing');
  assert.deepEqual(brief(await lint002(t, `${NO_TX}alter table users add column score int;\nupdate users set score = 0;`)), []);
  assert.deepEqual(brief(await lint002(t, "create table plans (id int, name text);\nalter table plans add column price int;\ninsert into plans values (1, 'free', 0);")), [], 'a seed of a new table');
});

test('ALTER TYPE … ADD VALUE then a use of the value in the same transaction: flagged, and PostgreSQL does refuse it', async (t) => {
  const bad = "alter type mood add value 'meh';\nupdate users set status = 'x' where status = 'meh'::mood::text;";
  const found = await lint002(t, bad);
  assert.deepEqual(brief(found), ['enum-value-in-transaction error 2:1']);
  assert.match(found[0]!.message, /uses 'meh', added to mood on line 1 in the same transaction/);
  assert.deepEqual(brief(await lint002(t, NO_TX + bad)), []);
  assert.deepEqual(brief(await lint002(t, "create type color as enum ('red');\nalter type color add value 'blue';\nselect 'blue'::color;")), [], 'a type created in the same transaction may use its new values');

  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_base.up.sql': BASE, '002_change.up.sql': bad });
  const up = await runCli(['up', '--dir', dir, '--url', db.url, '--lint=off']);
  assert.equal(up.code, 1, up.stderr);
  assert.match(up.stderr, /unsafe use of new value "meh" of enum type mood/);
  const { dir: split } = writeMigrations(t, { '001_base.up.sql': BASE, '002_change.up.sql': NO_TX + bad });
  assert.equal((await runCli(['up', '--dir', split, '--url', (await freshDb(t)).url, '--lint=off'])).code, 0);
});
