/**
 * What may be in a migration file, decided once (lib/migrations/script.ts) and applied alike by up, down,
 * validate and verify: transaction control, COPY with the client, empty files, meta-commands.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareScript } from '../lib/migrations/script.js';
import { loadParser, locate, splitStatements } from '../lib/migrations/sql.js';
import { closeAdmin, freshDb, freshPglite, runCli, spawnCli, waitFor, writeMigrations, type FreshDb, versions, exists } from './support/helpers.js';

after(closeAdmin);

const FIX = 'remove them: sqlmig wraps each file in a transaction, or use `-- sqlmig:no-transaction`';
const COPY_FIX = 'use \\copy in psql, or INSERT … SELECT / INSERT … VALUES';

const prepare = (text: string, options: { noTransaction?: boolean; direction?: 'up' | 'down' } = {}) =>
  prepareScript({ path: 'f.sql', text, noTransaction: options.noTransaction ?? false, direction: options.direction ?? 'up' });

// ---- transaction control (issue item 1) ----

test('a file that runs in a transaction refuses every form of transaction control, naming file:line:col', async () => {
  for (const [sql, word] of [
    ['begin;', 'BEGIN'], ['begin work;', 'BEGIN'], ['start transaction isolation level serializable;', 'START TRANSACTION'],
    ['commit;', 'COMMIT'], ['end;', 'END'], ['rollback;', 'ROLLBACK'], ['abort;', 'ABORT'], ['savepoint a;', 'SAVEPOINT'],
    ['release a;', 'RELEASE'], ['rollback to a;', 'ROLLBACK TO'], ["prepare transaction 'x';", 'PREPARE TRANSACTION'],
    ["commit prepared 'x';", 'COMMIT PREPARED'],
  ] as const) {
    await assert.rejects(prepare(`create table a (id int);\n  ${sql}\n`), (e: Error & { exitCode: number }) => {
      assert.equal(e.exitCode, 3);
      assert.ok(e.message.startsWith(`f.sql:2:3: ${word} `), e.message);
      assert.ok(e.message.includes(FIX), e.message);
      return true;
    }, sql);
  }
  // Inside function bodies and DO blocks it is not top-level: fine.
  const ok = await prepare("create procedure p() language plpgsql as $$ begin commit; end $$;\ndo $$ begin perform 1; end $$;\ncreate function f() returns int language sql begin atomic select 1; end;\n");
  assert.equal(ok.statements!.length, 3);
});

test('a no-transaction file may control transactions when every BEGIN is closed', async () => {
  const balanced = await prepare('-- sqlmig:no-transaction\nbegin;\ncreate table a (id int);\nsavepoint s;\nrollback to s;\ncommit;\nstart transaction;\nselect 1;\nend;\n', { noTransaction: true });
  assert.equal(balanced.statements!.length, 8);
  await assert.rejects(prepare('select 1;\nbegin;\ncreate table a (id int);\n', { noTransaction: true }), /f\.sql:2:1: BEGIN is not closed by the end of the file/);
  await assert.rejects(prepare('begin;\nselect 1;\nbegin;\ncommit;\n', { noTransaction: true }), /f\.sql:1:1: BEGIN is not closed before the next BEGIN at line 3/);
});

test('server: BEGIN … COMMIT in a transactional up is refused before anything runs; no row, no table', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_ok.up.sql': 'create table ok (id int);\n',
    '002_own_tx.up.sql': '-- a file that manages its own transaction\nbegin;\ncreate table a (id int);\nselect 1/0;\ncommit;\n',
    '003_commit_midway.up.sql': 'create table b (id int);\ncommit;\ncreate table c (id int);\n',
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /002_own_tx\.up\.sql:2:1: BEGIN controls the transaction \(also COMMIT at line 5\); remove them: sqlmig wraps each file in a transaction, or use `-- sqlmig:no-transaction`/);
  assert.match(r.stderr, /003_commit_midway\.up\.sql:2:1: COMMIT controls the transaction/, 'every refused file is named at once');
  assert.deepEqual(await versions(db), []);
  for (const table of ['ok', 'a', 'b', 'c']) assert.equal(await exists(db, table), false, `${table} must not exist`);
});

test('server: a no-transaction file with a balanced BEGIN … COMMIT applies; an unclosed BEGIN is refused naming its line', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_batch.up.sql': '-- sqlmig:no-transaction\nbegin;\ncreate table a (id int);\ninsert into a values (1);\ncommit;\ncreate index concurrently a_id on a (id);\n',
    '002_open.up.sql': '-- sqlmig:no-transaction\ncreate table before_begin (id int);\nbegin;\ncreate table b (id int);\n',
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /002_open\.up\.sql:3:1: BEGIN is not closed by the end of the file/);
  assert.deepEqual(await versions(db), [], 'refused before anything ran');
  assert.equal(await exists(db, 'before_begin'), false);
  rmSync(join(dir, '002_open.up.sql'));
  const ok = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(await versions(db), ['1']);
  assert.deepEqual((await db.sql`select id from a`).map((x) => x['id']), [1]);
});

test('server: down refuses transaction control in a down file and in down SQL stored in history', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_a.up.sql': 'create table a (id int);\n',
    '001_a.down.sql': 'drop table a;\n',
    '002_b.up.sql': 'create table b (id int);\n',
    '002_b.down.sql': 'drop table b;\n',
  });
  const args = ['--dir', dir, '--url', db.url];
  assert.equal((await runCli(['up', ...args])).code, 0);
  // A down file written with its own transaction: refused, nothing reverted.
  writeFileSync(join(dir, '002_b.down.sql'), 'begin;\ndrop table b;\ncommit;\n');
  const fromFile = await runCli(['down', ...args]);
  assert.equal(fromFile.code, 3, fromFile.stderr);
  assert.match(fromFile.stderr, /002_b\.down\.sql:1:1: BEGIN controls the transaction \(also COMMIT at line 3\)/);
  assert.deepEqual(await versions(db), ['1', '2']);
  assert.equal(await exists(db, 'b'), true);
  // The same in the down SQL stored at apply time, the file gone.
  await db.sql`update sqlmig_history set down_sql = ${'drop table b;\ncommit;\n'} where version = 2`;
  rmSync(join(dir, '002_b.up.sql'));
  rmSync(join(dir, '002_b.down.sql'));
  const stored = await runCli(['down', ...args]);
  assert.equal(stored.code, 3, stored.stderr);
  assert.match(stored.stderr, /002_b\.down\.sql \(stored in history; file missing\):2:1: COMMIT controls the transaction/);
  assert.deepEqual(await versions(db), ['1', '2']);
  assert.equal(await exists(db, 'b'), true);
});

// ---- COPY with the client (issue item 7) ----

test('COPY FROM STDIN / TO STDOUT are refused at parse time, with or without inline data', async () => {
  for (const [text, where, what] of [
    ['create table t (a int, b text);\nCOPY t FROM stdin;\n', '2:1', 'COPY … FROM STDIN'],
    ['create table t (a int, b text);\ncopy t (a, b) from stdin with (format csv);\n1,x\n2,y\n\\.\nselect 1;\n', '2:1', 'COPY … FROM STDIN'],
    ["create table t (a int, b text);\n-- rows\ncopy t from stdin;\n1\tO'Brien\n2\t\\N\n\\.\n", '3:1', 'COPY … FROM STDIN'],
    ['select 1;\n  copy (select 1) to stdout;\n', '2:3', 'COPY … TO STDOUT'],
  ] as const) {
    await assert.rejects(prepare(text), (e: Error & { exitCode: number }) => {
      assert.equal(e.exitCode, 3);
      assert.ok(e.message.startsWith(`f.sql:${where}: ${what}`), e.message);
      assert.ok(e.message.includes(COPY_FIX), e.message);
      assert.ok(!e.message.includes('meta-command'), e.message);
      return true;
    }, text);
  }
  // COPY from a server-side file is SQL the server runs: not refused here.
  assert.equal((await prepare("copy t from '/tmp/t.csv';\n")).statements!.length, 1);
  // A meta-command is still named as one, also after other statements.
  await assert.rejects(prepare('select 1;\n\\set x 1\n'), /f\.sql:2:1: psql meta-command \\set is not SQL/);
});

for (const engine of ['server', 'pglite'] as const) {
  test(`${engine}: COPY … FROM stdin is refused with exit 3 before anything runs, also with inline rows and \\.`, async (t) => {
    const { dir, root } = writeMigrations(t, {
      '001_t.up.sql': 'create table t (id int, name text);\n',
      '002_load.up.sql': 'COPY t FROM stdin;\n',
    });
    const db = engine === 'server' ? await freshDb(t) : null;
    const url = db ? db.url : await freshPglite(root);
    const bare = await runCli(['up', '--json', '--dir', dir, '--url', url]);
    assert.equal(bare.code, 3, bare.stderr);
    const message = JSON.parse(bare.stdout).error.message as string;
    assert.match(message, /002_load\.up\.sql:1:1: COPY … FROM STDIN reads its rows from the client/);
    assert.ok(message.includes(COPY_FIX), message);
    writeFileSync(join(dir, '002_load.up.sql'), 'copy t (id, name) from stdin;\n1\tann\n2\tbob\n\\.\n');
    const inline = await runCli(['up', '--dir', dir, '--url', url]);
    assert.equal(inline.code, 3, inline.stderr);
    assert.match(inline.stderr, /002_load\.up\.sql:1:1: COPY … FROM STDIN/);
    assert.doesNotMatch(inline.stderr, /meta-command/);
    if (db) {
      assert.deepEqual(await versions(db), []);
      assert.equal(await exists(db, 't'), false);
    } else {
      const status = await runCli(['status', '--json', '--dir', dir, '--url', url]);
      assert.equal(JSON.parse(status.stdout).current, null, 'nothing applied');
    }
  });
}

// ---- empty downs and one rule for every command (issue item 3) ----

for (const engine of ['server', 'pglite'] as const) {
  test(`${engine}: a comments-only down does nothing but delete its history row; down --all goes through it`, async (t) => {
    const { dir, root } = writeMigrations(t, {
      '001_a.up.sql': 'create table a (id int);\n',
      '001_a.down.sql': 'drop table a;\n',
      '002_seed.up.sql': 'insert into a values (1);\n',
      '002_seed.down.sql': '-- nothing to undo: the rows go with the table\n',
      '003_c.up.sql': 'create table c (id int);\n',
      '003_c.down.sql': '',
      '004_d.up.sql': 'create table d (id int);\n',
      '004_d.down.sql': 'drop table d;\n',
    });
    const db = engine === 'server' ? await freshDb(t) : null;
    const args = ['--dir', dir, '--url', db ? db.url : await freshPglite(root)];
    const up = await runCli(['up', ...args]);
    assert.equal(up.code, 0, up.stderr);
    const status = await runCli(['status', '--no-color', ...args]);
    assert.match(status.stdout, /applied\s+002_seed\s.*\(no-op down\)/);
    assert.match(status.stdout, /applied\s+003_c\s.*\(no-op down\)/);
    assert.doesNotMatch(status.stdout, /001_a\s.*no-op/);
    assert.equal(JSON.parse((await runCli(['status', '--json', ...args])).stdout).migrations[1].noOpDown, true);
    const validate = await runCli(['validate', ...args]);
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    // One down reverts 004; the next reverts 003 by deleting its row only: table c stays.
    assert.equal((await runCli(['down', '2', ...args])).code, 0);
    const current = await runCli(['current', ...args]);
    assert.match(current.stdout, /^002_seed/);
    const all = await runCli(['down', '--all', ...args]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /reverted 2 migrations/);
    assert.match((await runCli(['current', ...args])).stdout, /^\(none\)/);
    if (db) {
      assert.deepEqual(await versions(db), []);
      assert.equal(await exists(db, 'c'), true, 'the empty down of 003 did nothing');
      assert.equal(await exists(db, 'a'), false);
      assert.equal(await exists(db, 'd'), false);
    }
  });
}

test('server: an empty down stored in history (file gone) reverts by deleting the row', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_a.up.sql': 'create table a (id int);\n', '001_a.down.sql': '-- nothing\n' });
  const args = ['--dir', dir, '--url', db.url];
  assert.equal((await runCli(['up', ...args])).code, 0);
  rmSync(join(dir, '001_a.up.sql'));
  rmSync(join(dir, '001_a.down.sql'));
  const r = await runCli(['down', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /stored in history/);
  assert.deepEqual(await versions(db), []);
});

test('validate refuses what up, down and verify refuse, for pending and applied files, all at once', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_a.up.sql': 'create table a (id int);\n',
    '001_a.down.sql': 'drop table a;\n',
  });
  const args = ['--dir', dir, '--url', db.url];
  assert.equal((await runCli(['up', ...args])).code, 0);
  // Applied 001: its down is edited to hold its own transaction (down files are not checksummed).
  writeFileSync(join(dir, '001_a.down.sql'), 'begin;\ndrop table a;\ncommit;\n');
  writeFileSync(join(dir, '002_meta.up.sql'), 'create table m (id int);\n');
  writeFileSync(join(dir, '002_meta.down.sql'), 'drop table m;\n\\i cleanup.sql\n');
  writeFileSync(join(dir, '003_copy.up.sql'), 'copy a from stdin;\n1\n\\.\n');
  writeFileSync(join(dir, '004_empty.up.sql'), '/* to do */\n');
  const validate = await runCli(['validate', '--json', ...args]);
  assert.equal(validate.code, 3, validate.stderr);
  const problems = JSON.parse(validate.stdout).problems as { kind: string; version: string; message: string }[];
  assert.deepEqual(problems.map((p) => [p.kind, p.version]), [['bad-file', '001'], ['bad-file', '002'], ['bad-file', '003'], ['bad-file', '004']]);
  assert.match(problems[0]!.message, /001_a\.down\.sql:1:1: BEGIN controls the transaction/);
  assert.match(problems[1]!.message, /002_meta\.down\.sql:2:1: psql meta-command \\i is not SQL/);
  assert.match(problems[2]!.message, /003_copy\.up\.sql:1:1: COPY … FROM STDIN/);
  assert.match(problems[3]!.message, /004_empty\.up\.sql: no SQL statement in it/);
  // up refuses the same pending files, every one in one message, and runs nothing.
  const up = await runCli(['up', ...args]);
  assert.equal(up.code, 3, up.stderr);
  for (const p of problems.slice(1)) assert.ok(up.stderr.includes(p.message), `up names: ${p.message}`);
  assert.deepEqual(await versions(db), ['1']);
  // down refuses the applied one's down.
  const down = await runCli(['down', ...args]);
  assert.equal(down.code, 3, down.stderr);
  assert.ok(down.stderr.includes(problems[0]!.message), down.stderr);
  assert.equal(await exists(db, 'a'), true);
  // verify refuses before running anything.
  const verify = await runCli(['verify', '--dir', dir, '--url', db.url]);
  assert.equal(verify.code, 3, verify.stderr);
  assert.ok(verify.stderr.includes(problems[1]!.message), verify.stderr);
});

test('a 0-byte up is refused like a comments-only one, and a 0-byte down is a down that does nothing', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_a.up.sql': 'create table a (id int);\n',
    '001_a.down.sql': '',
    '002_empty.up.sql': '',
  });
  const args = ['--dir', dir, '--url', db.url];
  const up = await runCli(['up', ...args]);
  assert.equal(up.code, 3, up.stderr);
  assert.match(up.stderr, /002_empty\.up\.sql: no SQL statement in it \(empty, or comments only\)\. Write the migration, or delete the file .*; a placeholder meant to do nothing .* such as `select 1;`\./);
  assert.doesNotMatch(up.stderr, /cannot be empty/, 'no parser error in lint or the refusal');
  assert.deepEqual(await versions(db), []);
  const lint = await runCli(['lint', '--all', '--dir', dir]);
  assert.doesNotMatch(lint.stdout + lint.stderr, /syntax-error/);

  rmSync(join(dir, '002_empty.up.sql'));
  assert.equal((await runCli(['up', ...args])).code, 0);
  const status = await runCli(['status', ...args]);
  assert.match(status.stdout, /applied\s+001_a .*\(no-op down\)/);
  const verify = await runCli(['verify', '--dir', dir, '--url', db.url]);
  assert.doesNotMatch(verify.stdout + verify.stderr, /parser cannot read/);
  assert.match(verify.stdout + verify.stderr, /001_a: its down does not restore the schema/);
  const down = await runCli(['down', ...args]);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await versions(db), []);
  assert.equal(await exists(db, 'a'), true, 'a down that does nothing drops nothing');
});

// ---- splitting speed (issue item 15) ----

test('statement offsets, lines and columns are exact in multi-byte text', async () => {
  const lib = await loadParser();
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) {
    lines.push(i % 3 === 0
      ? `insert into t values (${i}, 'é${'中'.repeat(i % 7)}😀');`
      : i % 3 === 1 ? `  /* ü */ select 'a;b', $$x;y$$; -- ✓ ${i}` : `create table "tä${i}" (id int);`);
  }
  const text = lines.join('\n') + '\n';
  const { statements } = splitStatements(lib, text);
  assert.ok(statements);
  let count = 0;
  for (const s of statements) {
    assert.equal(text.slice(s.offset, s.offset + s.sql.length), s.sql);
    assert.deepEqual({ line: s.line, column: s.column }, locate(text, s.offset));
    const naive = text.slice(0, s.offset).split('\n');
    assert.deepEqual({ line: s.line, column: s.column }, { line: naive.length, column: naive.at(-1)!.length + 1 });
    count++;
  }
  assert.equal(count, 300);
});

/** A data migration of one-line INSERTs, about `megabytes` big. */
function bigDataFile(megabytes: number, table: string): string {
  const parts = [`create table ${table} (id int primary key, note text);\n`];
  let size = 0;
  for (let i = 0; size < megabytes * 1024 * 1024; i++) {
    const line = `insert into ${table} (id, note) values (${i}, 'row ${i}: some text to make it longer');\n`;
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}

test('a 5 MB file of one-line INSERTs is split whole, each statement located', { timeout: 60_000 }, async () => {
  const text = bigDataFile(5, 'big');
  const script = await prepare(text);
  const statements = script.statements!;
  assert.ok(statements.length > 60_000, String(statements.length));
  const last = statements.at(-1)!;
  assert.equal(last.line, statements.length);
  assert.equal(last.column, 1);
  assert.equal(text.slice(last.offset, last.offset + last.sql.length), last.sql);
});

test('SIGTERM while huge files are being prepared stops the run: exit 143, nothing applied', { timeout: 90_000 }, async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_big_a.up.sql': bigDataFile(3, 'big_a'),
    '002_big_b.up.sql': bigDataFile(3, 'big_b'),
  });
  const run = spawnCli(['up', '--dir', dir, '--url', db.url]);
  // The runner takes its lock, then prepares the files: signal it then.
  await waitFor(async () => (await db.sql`select 1 from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`).length > 0, 'the runner to take its lock', 60_000);
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /interrupted by SIGTERM/);
  assert.deepEqual(await versions(db), []);
  assert.equal(await exists(db, 'big_a'), false);
});
