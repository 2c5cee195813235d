import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticHistory } from '../scripts/fixtures/history.js';
import { MIN_PART, partStarts, type MigrationFacts } from '../lib/runner/verify-parts.js';
import { closeAdmin, freshDb, runCli, scratchRunning, spawnCli, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const table = (i: number): MigrationFacts => ({
  up: { path: `${i}.up.sql`, transactional: true, statements: [{ kind: 'CreateStmt', sql: `create table t${i} (id int)` }] },
  down: { path: `${i}.down.sql`, transactional: true, statements: [{ kind: 'DropStmt', sql: `drop table t${i}` }] },
});
const tables = (n: number) => Array.from({ length: n }, (_, i) => table(i));
const withUp = (m: MigrationFacts, kind: string, sql: string): MigrationFacts => ({ ...m, up: { ...m.up, statements: [{ kind, sql }] } });

test('parts: too few migrations, or one job, is one part; enough are cut into balanced parts that each hold MIN_PART or more', () => {
  assert.deepEqual(partStarts(tables(2 * MIN_PART - 1), 4), { starts: [0], why: null });
  assert.deepEqual(partStarts(tables(200), 1), { starts: [0], why: null });
  const two = partStarts(tables(100), 2).starts;
  assert.equal(two.length, 2);
  assert.ok(two[1]! > 55 && two[1]! < 65, `a later part replays what comes before it, and its round trips read a bigger schema, so it holds fewer: ${two}`);
  const four = partStarts(tables(400), 4).starts;
  assert.equal(four.length, 4);
  for (let j = 1; j < 4; j++) assert.ok(four[j]! - four[j - 1]! >= MIN_PART && four[j]! > four[j - 1]!);
  assert.equal(partStarts(tables(60), 8).starts.length, 2, 'no part smaller than MIN_PART');
});

test('parts: no cut after a migration that runs without a transaction; the reason names its file when that leaves one part', () => {
  const late = tables(100);
  late[70] = { ...late[70]!, down: { ...late[70]!.down!, transactional: false } };
  const cut = partStarts(late, 2).starts;
  assert.equal(cut.length, 2);
  assert.ok(cut[1]! <= 70, `cut at ${cut[1]}: the schema after 70 cannot be had by replaying`);
  const early = tables(100);
  early[10] = { ...early[10]!, up: { ...early[10]!.up, transactional: false } };
  assert.deepEqual(partStarts(early, 2), { starts: [0], why: '10.up.sql runs without a transaction, so the schema after it cannot be had by replaying' });
});

test('parts: a file that may touch what the databases of a server share keeps the run on one database, named', () => {
  const cases: [string, string, RegExp][] = [
    ['CreateRoleStmt', 'create role app', /^40\.up\.sql: it may change what all databases/],
    ['GrantRoleStmt', 'grant app to other', /^40\.up\.sql/],
    ['CreateTableSpaceStmt', "create tablespace t location '/x'", /^40\.up\.sql/],
    ['AlterSystemStmt', "alter system set work_mem = '8MB'", /^40\.up\.sql/],
    ['DoStmt', "do $$ begin execute 'create role x'; end $$", /^40\.up\.sql: a DO block, whose statements cannot be seen/],
    ['CallStmt', 'call make_roles()', /^40\.up\.sql: a CALL/],
    ['GrantStmt', 'grant connect on database app to reader', /^40\.up\.sql/],
    ['CommentStmt', "comment on role app is 'x'", /^40\.up\.sql/],
  ];
  for (const [kind, sql, why] of cases) {
    const history = tables(100);
    history[40] = withUp(history[40]!, kind, sql);
    const parts = partStarts(history, 2);
    assert.deepEqual(parts.starts, [0], kind);
    assert.match(parts.why ?? '', why, kind);
  }
  const unreadable = tables(100);
  unreadable[3] = { ...unreadable[3]!, down: { ...unreadable[3]!.down!, statements: null } };
  assert.match(partStarts(unreadable, 2).why ?? '', /^3\.down\.sql: the parser cannot read it/);
  const localGrant = tables(100);
  localGrant[40] = withUp(localGrant[40]!, 'GrantStmt', 'grant select on t40 to reader');
  localGrant[41] = withUp(localGrant[41]!, 'CommentStmt', "comment on table t41 is 'the users'");
  assert.equal(partStarts(localGrant, 2).starts.length, 2, 'a grant or comment on a table stays in its database');
});

function historyFiles(count: number, edit: (files: Record<string, string>, names: string[]) => void = () => {}): Record<string, string> {
  const files: Record<string, string> = {};
  const names: string[] = [];
  syntheticHistory({ count }).forEach((m, i) => {
    const id = `${String(i + 1).padStart(3, '0')}_${m.name}`;
    names.push(id);
    files[`${id}.up.sql`] = m.up;
    if (m.down !== null) files[`${id}.down.sql`] = m.down;
  });
  edit(files, names);
  return files;
}

interface Run { code: number; parts: number; findings: unknown[]; stderr: string }

async function verifyWith(db: FreshDb, dir: string, jobs: number): Promise<Run> {
  const r = await runCli(['verify', '--json', '--jobs', String(jobs), '--dir', dir, '--url', db.url]);
  assert.ok(r.stdout, r.stderr);
  const result = JSON.parse(r.stdout) as { parts: number; findings: Record<string, unknown>[] };
  const findings = result.findings.map(({ version, name, status, reason, differences, notes, error }) => ({ version, name, status, reason, differences, notes, error }));
  return { code: r.code, parts: result.parts, findings, stderr: r.stderr };
}

async function scratchDatabases(db: FreshDb): Promise<string[]> {
  return (await db.sql`select datname from pg_database where datname like 'sqlmig\\_verify\\_%'`).map((r) => r['datname'] as string);
}

const statuses = (run: Run) => run.findings.map((f) => (f as { status: string }).status);

test('verify in two parts gives the findings of one: a down that does not restore in each part, then an up that fails in the first part', async (t) => {
  const db = await freshDb(t);
  const broken = writeMigrations(t, historyFiles(60, (files, names) => {
    files[`${names[5]}.down.sql`] = 'select 1;'; // leaves its table behind
    files[`${names[53]}.down.sql`] = 'select 1;';
  }));
  const one = await verifyWith(db, broken.dir, 1);
  const two = await verifyWith(db, broken.dir, 2);
  assert.equal(one.parts, 1);
  assert.equal(two.parts, 2);
  assert.match(two.stderr, /verifying in 2 parts at once, each on a temporary database of its own; findings in migration order/);
  assert.equal(two.code, 3);
  assert.equal(one.code, 3);
  assert.deepEqual(two.findings, one.findings);
  assert.equal(statuses(two).filter((s) => s === 'failed').length, 2);
  assert.ok(statuses(two).indexOf('failed') < 30 && statuses(two).lastIndexOf('failed') > 40, 'one failure in each part');

  const failing = writeMigrations(t, historyFiles(60, (files, names) => { files[`${names[10]}.up.sql`] += '\nselect 1 / 0;'; }));
  const oneFailing = await verifyWith(db, failing.dir, 1);
  const twoFailing = await verifyWith(db, failing.dir, 2);
  assert.deepEqual(twoFailing.findings, oneFailing.findings);
  assert.deepEqual(statuses(twoFailing).slice(10), ['failed', ...Array(statuses(twoFailing).length - 11).fill('not-run')], 'the second part is not run either');
  assert.match((twoFailing.findings.at(-1) as { reason: string }).reason, /^011_.* could not be applied$/);
  assert.deepEqual(await scratchDatabases(db).then((names) => names.filter((n) => two.stderr.includes(n) || twoFailing.stderr.includes(n))), [], 'the scratch databases are dropped');
});

test('verify stays on one database when a migration creates a role, and says which file', async (t) => {
  const db = await freshDb(t);
  const role = `sqlmig_parts_${Date.now().toString(36)}`;
  const { dir } = writeMigrations(t, historyFiles(60, (files, names) => {
    files[`${names[31]}.up.sql`] += `\ncreate role ${role};`;
    files[`${names[31]}.down.sql`] = `drop role ${role};\n${files[`${names[31]}.down.sql`]!}`;
  }));
  const run = await verifyWith(db, dir, 2);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.parts, 1);
  assert.match(run.stderr, /verifying on one database \(.*032_.*\.up\.sql: it may change what all databases of the server share\)/);
});

test('SIGINT while two parts run: exit 130, both scratch databases dropped, nothing on the target', async (t) => {
  const db = await freshDb(t);
  const marker = 'pg_sleep(30) /* part two */';
  const { dir } = writeMigrations(t, historyFiles(60, (files, names) => { files[`${names[55]}.up.sql`] += `\nselect ${marker};`; }));
  const run = spawnCli(['verify', '--jobs', '2', '--dir', dir, '--url', db.url]);
  t.after(() => { run.child.kill('SIGKILL'); });
  const second = await scratchRunning(db, marker);
  const { stdout, stderr } = run.printed();
  const first = /\/(sqlmig_verify_[0-9a-f]+)/.exec(stdout + stderr)?.[1];
  assert.ok(first && first !== second, `two scratch databases: ${first}, ${second}`);
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted by SIGINT during verify at .*056_.*: nothing of the target changed/);
  const left = await scratchDatabases(db);
  assert.ok(!left.includes(first!) && !left.includes(second), `dropped: ${left}`);
  assert.equal((await db.sql`select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'`)[0]!['n'], 0);
});
