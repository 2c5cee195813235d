/**
 * On a server a transactional file goes as one message: errors must still name file:line:col with a
 * caret, whether the server gives a position (mapped back from the whole message) or not (found by
 * running the file again, rolled back), and a failure must leave neither a half nor a history row.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { locateInMessage, oneMessage } from '../lib/db/one-message.js';
import { historyInsert } from '../lib/runner/history.js';
import { closeAdmin, exists, freshDb, freshPglite, runCli, versions, writeMigrations } from './support/helpers.js';

after(closeAdmin);

/** `count` inserts into t, one a line, with `bad` put in at statement `at` (1-based, after the create). */
function bigFile(count: number, at: number, bad: string): { text: string; line: number } {
  const lines = ['create table t (id int primary key, label text);'];
  for (let i = 1; i <= count; i++) lines.push(i === at ? bad : `insert into t values (${i}, 'row ${i}; not a split point');`);
  return { text: lines.join('\n') + '\n', line: at + 1 };
}

test('a statement the server rejects with a position, in the middle of a 600-statement file: file:line:col, a caret, nothing left', async (t) => {
  const db = await freshDb(t);
  const { text, line } = bigFile(600, 300, 'insert into t (id, nope) values (300, 1);');
  const { dir } = writeMigrations(t, { '001_ok.up.sql': 'create table kept (id int);\n', '002_big.up.sql': text });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`002_big\\.up\\.sql:${line}:20: column "nope" of relation "t" does not exist`));
  assert.match(r.stderr, new RegExp(`${line} \\| insert into t \\(id, nope\\) values \\(300, 1\\);\\n\\s+\\|\\s{20}\\^`));
  assert.deepEqual(await versions(db), ['1']);
  assert.equal(await exists(db, 't'), false, 'the failed file left nothing behind');
});

test('a run-time error (division by zero) in the middle of a multi-statement file names its line', async (t) => {
  const db = await freshDb(t);
  const { text, line } = bigFile(400, 201, 'insert into t values (201, (1 / 0)::text);');
  const { dir } = writeMigrations(t, { '001_big.up.sql': text });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`001_big\\.up\\.sql:${line}:1: division by zero`));
  assert.match(r.stderr, new RegExp(`${line} \\| insert into t values \\(201, \\(1 / 0\\)::text\\);\\n\\s+\\| \\^`));
  assert.deepEqual(await versions(db), []);
  assert.equal(await exists(db, 't'), false);
});

test('a violated constraint after the file\'s own statements ran names its line; the replay is rolled back too', async (t) => {
  const db = await freshDb(t);
  const { text, line } = bigFile(50, 40, 'insert into t values (7, \'again\');');
  const { dir } = writeMigrations(t, { '001_big.up.sql': `create sequence s;\nselect nextval('s');\n${text}` });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`001_big\\.up\\.sql:${line + 2}:1: duplicate key value violates unique constraint "t_pkey"`));
  assert.match(r.stderr, /DETAIL: Key \(id\)=\(7\) already exists\./);
  assert.equal(await exists(db, 's'), false);
  assert.deepEqual(await versions(db), []);
});

test('a deferred constraint that fails at COMMIT (the migration and its history row are one message, COMMIT its own): rolled back, not recorded, the next not run', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_ok.up.sql': 'create table parent (id int primary key);\n',
    '002_deferred.up.sql': 'create table child (id int, parent_id int references parent deferrable initially deferred);\ninsert into child values (1, 42);\n',
    '003_after.up.sql': 'create table after_it (id int);\n',
  });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /violates foreign key constraint/);
  assert.match(r.stderr, /could not apply 002_deferred; it was rolled back\. Done before it and kept: 001_ok\./);
  assert.deepEqual(await versions(db), ['1']);
  assert.equal(await exists(db, 'child'), false);
  assert.equal(await exists(db, 'after_it'), false);
  const again = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(again.code, 1, 'the session was left clean: the same failure, not an aborted transaction');
  assert.match(again.stderr, /violates foreign key constraint/);
});

test('function bodies with semicolons run whole; an error after them, and one inside a body, point at the right line', async (t) => {
  const db = await freshDb(t);
  const fn = [
    'create function bump(x int) returns int language plpgsql as $$',
    'declare y int := x;',
    'begin',
    '  y := y + 1; -- a ; here',
    "  raise notice 'bumped; %', y;",
    '  return y;',
    'end $$;',
  ];
  const good = writeMigrations(t, { '001_fn.up.sql': `${fn.join('\n')}\ncreate view v as select bump(1) as two;\n` });
  const ok = await runCli(['up', '--dir', good.dir, '--url', db.url]);
  assert.equal(ok.code, 0, ok.stderr);
  const [row] = await db.sql`select two from v`;
  assert.equal(row!['two'], 2);

  const other = await freshDb(t);
  const after = writeMigrations(t, { '001_fn.up.sql': `${fn.join('\n')}\nselect bump(1);\nselect bump('x');\n` });
  const r = await runCli(['up', '--dir', after.dir, '--url', other.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /001_fn\.up\.sql:9:13: invalid input syntax for type integer: "x"/);
  assert.equal(await exists(other, 'v'), false);

  const third = await freshDb(t);
  const body = writeMigrations(t, {
    '001_fn.up.sql': 'create table t (id int);\n\ncreate function f() returns int language sql as $$\n  select 1;\n  select missing from t;\n$$;\n',
  });
  const inBody = await runCli(['up', '--dir', body.dir, '--url', third.url]);
  assert.equal(inBody.code, 1, inBody.stderr);
  assert.match(inBody.stderr, /001_fn\.up\.sql:5:10: column "missing" does not exist/);
  assert.equal(await exists(third, 't'), false);
});

test('a file of 3,000 statements applies whole, and one failing near its end is named', async (t) => {
  const db = await freshDb(t);
  const { text } = bigFile(3000, 0, '');
  const { dir } = writeMigrations(t, { '001_many.up.sql': text });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  const [row] = await db.sql`select count(*)::int as n from t`;
  assert.equal(row!['n'], 3000);
  const [history] = await db.sql`select up_sql from sqlmig_history`;
  assert.equal(history!['up_sql'], text);

  const other = await freshDb(t);
  const failing = bigFile(3000, 2999, 'insert into t values (2999, 1 / 0);');
  const bad = writeMigrations(t, { '001_many.up.sql': failing.text });
  const failed = await runCli(['up', '--dir', bad.dir, '--url', other.url]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, new RegExp(`001_many\\.up\\.sql:${failing.line}:1: division by zero`));
  assert.deepEqual(await versions(other), []);
});

test('characters outside the BMP before the failing statement do not shift its column', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_u.up.sql': "select '😀😀 é';\nselect 1;\nselect '😀', nope;\n" });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /001_u\.up\.sql:3:13: column "nope" does not exist/);
});

test('the history row keeps up and down SQL byte for byte, whatever quotes they hold', async (t) => {
  const db = await freshDb(t);
  const up = "create table q (s text);\ninsert into q values ($sqlmig$ $$ ' \\' $sqlmig1$ $a$ $sqlmig$);\n-- ends in a dollar $";
  const down = "drop table q; -- $sqlmig$\n";
  const { dir } = writeMigrations(t, { '001_q.up.sql': up, '001_q.down.sql': down });
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  const [row] = await db.sql`select up_sql, down_sql from sqlmig_history`;
  assert.equal(row!['up_sql'], up);
  assert.equal(row!['down_sql'], down);
  const back = await runCli(['down', '--dir', dir, '--url', db.url]);
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual(await versions(db), []);
});

test('inline history SQL has no parameters; positions map back to their statement', () => {
  const q = historyInsert({ schema: 'public', table: 'h' }, {
    version: 7n, name: 'n', checksum: 'c', upSql: 'x', downSql: null, durationMs: 0, transactional: true,
  }, { guard: 'g', inline: true });
  assert.deepEqual(q.params, []);
  assert.match(q.sql, /select 7::bigint, \$sqlmig\$n\$sqlmig\$::text/);
  const message = oneMessage('begin', ['select 1', "select '😀', nope"]);
  const at = [...message.text].join('').indexOf('nope');
  // the server counts code points from 1
  const position = [...message.text.slice(0, at)].length + 1;
  assert.deepEqual(locateInMessage(message, String(position)), { index: 1, position: 13 });
  assert.equal(locateInMessage(message, undefined), null);
  assert.equal(locateInMessage(message, '2'), null, 'inside the opening');
});

test('PGlite: a file goes as one exec too; failures with and without a position name their line, and leave nothing', async (t) => {
  const { text: bad, line } = bigFile(300, 150, 'insert into t values (150, (1 / 0)::text);');
  const { root, dir } = writeMigrations(t, { '001_big.up.sql': bad });
  const url = await freshPglite(root);
  const r = await runCli(['up', '--dir', dir, '--url', url]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`001_big\\.up\\.sql:${line}:1: division by zero`));

  writeFileSync(join(dir, '001_big.up.sql'), bigFile(300, 200, 'insert into t (id, nope) values (200, 1);').text);
  const positioned = await runCli(['up', '--dir', dir, '--url', url]);
  assert.equal(positioned.code, 1, positioned.stderr);
  assert.match(positioned.stderr, /001_big\.up\.sql:201:20: column "nope" of relation "t" does not exist/);

  // Had either failure left its table or its row, this would fail or have nothing to do.
  const { text: good } = bigFile(300, 0, '');
  writeFileSync(join(dir, '001_big.up.sql'), `${good}create function f() returns int language plpgsql as $$ begin perform 1; return 2; end $$;\n`);
  const ok = await runCli(['up', '--dir', dir, '--url', url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout + ok.stderr, /001_big/);
});
