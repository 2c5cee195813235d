/** A command on many databases or tenant schemas: targets, failure policy, reporting; standbys refused. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminUrl, closeAdmin, freshDb, runCli, spawnCli, writeMigrations, type FreshDb } from './support/helpers.js';
import { checksum, normalizeText } from '../lib/migrations/checksum.js';
import { lockKey } from '../lib/runner/lock.js';
import { findPgBin, freePort, onFreePort, tmpdirForNobody } from './support/server.js';

after(closeAdmin);

const MIGRATIONS = {
  '001_one.up.sql': 'create table one (id int);',
  '001_one.down.sql': 'drop table one;',
  '002_two.up.sql': 'create table two (id int);',
  '002_two.down.sql': 'drop table two;',
};

function targetsFile(t: { after(fn: () => void): void }, lines: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'sqlmig-fleet-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const file = join(root, 'targets.txt');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function versions(db: FreshDb, schema = 'public'): Promise<number[] | null> {
  const [found] = await db.sql`select to_regclass(${`"${schema}".sqlmig_history`}) as t`;
  if (!found!['t']) return null;
  const rows = await db.sql.unsafe(`select version::int as v from "${schema}".sqlmig_history order by version`);
  return rows.map((r) => r['v'] as number);
}

const password = (db: FreshDb) => decodeURIComponent(new URL(db.url).password);

test('up on a fleet: one line per target; the unreachable one exits 5, the others are migrated; no password in any output', async (t) => {
  const [a, b, c] = await Promise.all([freshDb(t), freshDb(t), freshDb(t)]);
  const { dir } = writeMigrations(t, MIGRATIONS);
  const file = targetsFile(t, [
    '# staging and production',
    `alpha=${a.url}`,
    'beta = ${FLEET_BETA_URL}',
    '',
    c.url,
    'gone=postgres://app:hunter2-secret@127.0.0.1:1/nowhere',
  ]);
  const env = { FLEET_BETA_URL: b.url };
  const r = await runCli(['up', '--targets', file, '--dir', dir, '--parallel', '2'], { env });
  assert.equal(r.code, 5, r.stderr);
  const cName = `127.0.0.1:${new URL(c.url).port}/${c.name}`;
  for (const name of ['alpha', 'beta', cName]) assert.match(r.stdout, new RegExp(`^ok\\s+${name.replace(/\./g, '\\.')}\\s+postgres://postgres:\\*\\*\\*@.*\\(none\\) → 002\\s+2 applied`, 'm'));
  assert.match(r.stdout, /^FAILED\s+gone\s+postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/nowhere\s+.*exit 5: cannot connect/m);
  assert.match(r.stdout, /^4 targets: 3 ok, 1 failed$/m);
  assert.match(r.stdout, /^left behind: gone$/m);
  assert.match(r.stdout, new RegExp(`^rerun only those: sqlmig up --targets ${file} --dir ${dir} --parallel 2 --only gone$`, 'm'));
  assert.match(r.stderr, /1 of 4 targets failed:\ngone \(postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/nowhere\): exit 5/);
  for (const db of [a, b, c]) assert.deepEqual(await versions(db), [1, 2]);

  const json = await runCli(['status', '--targets', file, '--dir', dir, '--json'], { env });
  assert.equal(json.code, 5, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.deepEqual(doc.targets.map((x: { name: string; state: string }) => [x.name, x.state]), [['alpha', 'ok'], ['beta', 'ok'], [cName, 'ok'], ['gone', 'failed']]);
  assert.deepEqual([doc.targets[0].current, doc.targets[0].pending], ['002', 0]);
  assert.equal(doc.targets[3].error.code, 5);
  assert.deepEqual(doc.leftBehind, ['gone']);
  for (const out of [r.stdout, r.stderr, json.stdout, json.stderr]) {
    for (const secret of [password(a), 'hunter2-secret']) assert.ok(!out.includes(secret), `a password in the output:\n${out}`);
  }

  const down = await runCli(['down', '--targets', file, '--dir', dir, '--only', 'alpha,beta'], { env });
  assert.equal(down.code, 2);
  assert.match(down.stderr, /--yes-all-targets/);
  const reverted = await runCli(['down', '--targets', file, '--dir', dir, '--only', 'alpha,beta', '--yes-all-targets'], { env });
  assert.equal(reverted.code, 0, reverted.stderr);
  assert.match(reverted.stdout, /^ok\s+alpha\s+.*002 → 001\s+1 reverted/m);
  assert.deepEqual([await versions(a), await versions(b), await versions(c)], [[1], [1], [1, 2]]);
});

test('a failing target: the others are applied and the fleet exits 1; --fail-fast and --canary start no more after it', async (t) => {
  const dbs = await Promise.all(Array.from({ length: 6 }, () => freshDb(t)));
  const [bad, ok1, ok2, p, q, r] = dbs as [FreshDb, FreshDb, FreshDb, FreshDb, FreshDb, FreshDb];
  for (const db of [bad, p]) await db.sql`create table two (id int)`; // 002 fails there
  const { dir } = writeMigrations(t, MIGRATIONS);
  const all = await runCli(['up', '--targets', targetsFile(t, [`bad=${bad.url}`, `ok1=${ok1.url}`, `ok2=${ok2.url}`]), '--dir', dir]);
  assert.equal(all.code, 1, all.stderr);
  assert.match(all.stdout, /^FAILED\s+bad\s+.*\(none\) → 001\s+1 applied.*exit 1: .*002_two\.up\.sql:1:1: relation "two" already exists/m);
  assert.match(all.stdout, /^left behind: bad$/m);
  assert.deepEqual([await versions(bad), await versions(ok1), await versions(ok2)], [[1], [1, 2], [1, 2]]);

  const file = targetsFile(t, [`p=${p.url}`, `q=${q.url}`, `r=${r.url}`]);
  const failFast = await runCli(['up', '--targets', file, '--dir', dir, '--fail-fast', '--parallel', '1']);
  assert.equal(failFast.code, 1, failFast.stderr);
  assert.match(failFast.stdout, /^3 targets: 0 ok, 1 failed, 2 not started \(--fail-fast: p failed\)$/m);
  assert.match(failFast.stdout, /^left behind: p, q, r$/m);
  assert.match(failFast.stdout, /--only p,q,r$/m);
  assert.deepEqual([await versions(q), await versions(r)], [null, null]);

  const canary = await runCli(['up', '--targets', file, '--dir', dir, '--canary', '1']);
  assert.equal(canary.code, 1, canary.stderr);
  assert.match(canary.stdout, /2 not started \(--canary 1: p failed\)/);
  assert.deepEqual([await versions(q), await versions(r)], [null, null]);
  const canaryFirst = targetsFile(t, [`q=${q.url}`, `p=${p.url}`, `r=${r.url}`]);
  const goesOn = await runCli(['up', '--targets', canaryFirst, '--dir', dir, '--canary', '1', '--parallel', '1']);
  assert.equal(goesOn.code, 1, goesOn.stderr);
  assert.match(goesOn.stdout, /^3 targets: 2 ok, 1 failed$/m);
  assert.deepEqual([await versions(q), await versions(r)], [[1, 2], [1, 2]]);
});

test('bad targets exit 2 naming the line, before any target is touched', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, MIGRATIONS);
  const cases: [string[], RegExp][] = [
    [[`one=${db.url}`, '# again', `one=${db.url}`], /targets\.txt:3: the name "one" is already used at .*targets\.txt:1; names must be unique/],
    [[`one=${db.url}`, db.url, db.url], /targets\.txt:3: the name "127\.0\.0\.1:\d+\/sqlmig_t_\w+" is already used at .*targets\.txt:2/],
    [[`one=${db.url}`, 'two=${FLEET_NOT_SET}'], /targets\.txt:2: \$\{FLEET_NOT_SET\} is not set \(or empty\) in the environment/],
    [[`one=${db.url}`, 'two=postgres://app:s3cret@db:port/x'], /targets\.txt:2: the port after the host is not a number/],
    [[`one=${db.url}`, 'mysql://app@db/x'], /targets\.txt:2: expected postgres:\/\//],
  ];
  for (const [lines, message] of cases) {
    const r = await runCli(['up', '--targets', targetsFile(t, lines), '--dir', dir]);
    assert.equal(r.code, 2, `${lines.join(' | ')}\n${r.stderr}`);
    assert.match(r.stderr, message);
    assert.ok(!r.stderr.includes('s3cret') && !r.stderr.includes(password(db)));
  }
  const unreadable = await runCli(['up', '--targets', join(tmpdir(), 'no-such-dir', 'targets.txt'), '--dir', dir]);
  assert.equal(unreadable.code, 2);
  assert.match(unreadable.stderr, /--targets .*targets\.txt: cannot read it \(ENOENT\)/);
  const zero = await runCli(['up', '--targets', targetsFile(t, [db.url]), '--dir', dir, '--parallel', '0']);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /--parallel: expected a whole number, 1 or more/);
  const history = await runCli(['history', '--targets', targetsFile(t, [db.url]), '--dir', dir]);
  assert.equal(history.code, 2);
  assert.match(history.stderr, /history runs on one database; with --targets or --schemas run up, down, status/);
  assert.equal(await versions(db), null, 'a target was touched');
});

test('status --targets shows the fleet side by side: current version, pending, edited and missing', async (t) => {
  const [s1, s2] = await Promise.all([freshDb(t), freshDb(t)]);
  const { dir } = writeMigrations(t, MIGRATIONS);
  const file = targetsFile(t, [`s1=${s1.url}`, `s2=${s2.url}`]);
  assert.equal((await runCli(['up', '--targets', file, '--dir', dir])).code, 0);
  await s1.sql`update sqlmig_history set checksum = 'x' where version = 1`;
  await s2.sql`insert into sqlmig_history (version, name, checksum, up_sql) values (9, 'gone', 'x', 'select 1')`;
  writeFileSync(join(dir, '003_three.up.sql'), 'create table three (id int);');
  const r = await runCli(['status', '--targets', file, '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^target\s+database\s+current\s+pending\s+edited\s+missing\s+time\s+result$/m);
  assert.match(r.stdout, /^s1\s+postgres:\/\/postgres:\*\*\*@\S+\s+002\s+1\s+001\s+-\s+\d+ ms\s+ok$/m);
  assert.match(r.stdout, /^s2\s+postgres:\/\/postgres:\*\*\*@\S+\s+009\s+1\s+-\s+009\s+\d+ ms\s+ok$/m);
  const check = await runCli(['status', '--targets', file, '--dir', dir, '--check', '--quiet']);
  assert.equal(check.code, 7);
  assert.equal(check.stdout, '');
  assert.match(check.stderr, /2 of 2 targets failed:\ns1 .*: exit 7\n {2}1 pending \(--check\)/);
  const validate = await runCli(['validate', '--targets', file, '--dir', dir]);
  assert.equal(validate.code, 3);
  assert.match(validate.stdout, /^FAILED\s+s1\s+.*1 problem .*exit 3: 1 problem found:/m);
  // verify proves the files on a scratch database of the target's server: once per server.
  const verify = await runCli(['verify', '--targets', file, '--dir', dir]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /^ok\s+s1\s+.*every down round-trips/m);
  assert.match(verify.stdout, /^1 target: 1 ok$/m);
});

test('--schemas runs once per matching schema, each with its own search_path and history table', async (t) => {
  const db = await freshDb(t);
  await db.sql.unsafe('create schema tenant_a; create schema "tenant_B-2"; create schema other');
  const { dir } = writeMigrations(t, {
    '001_accounts.up.sql': 'create table accounts (id int);\nset search_path = public;',
    '002_name.up.sql': 'alter table accounts add column name text;',
  });
  const r = await runCli(['up', '--schemas', 'tenant_*', '--url', db.url, '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok\s+tenant_B-2\s+postgres:\/\/postgres:\*\*\*@\S+ \(schema tenant_B-2\)\s+\(none\) → 002\s+2 applied/m);
  for (const schema of ['tenant_a', 'tenant_B-2']) {
    assert.deepEqual(await versions(db, schema), [1, 2]);
    const [col] = await db.sql`select count(*)::int as n from information_schema.columns where table_schema = ${schema} and table_name = 'accounts' and column_name = 'name'`;
    assert.equal(col!['n'], 1, `accounts.name in ${schema}`);
  }
  for (const schema of ['other', 'public']) assert.equal((await db.sql`select to_regclass(${`"${schema}".accounts`}) as t`)[0]!['t'], null);
  assert.equal(await versions(db), null);
  const json = await runCli(['status', '--schemas', 'tenant_*,other', '--url', db.url, '--dir', dir, '--json']);
  const doc = JSON.parse(json.stdout);
  assert.deepEqual(doc.targets.map((x: { name: string; current: string | null; pending: number }) => [x.name, x.current, x.pending]),
    [['other', null, 2], ['tenant_B-2', '002', 0], ['tenant_a', '002', 0]]);
  const none = await runCli(['up', '--schemas', 'nobody_*', '--url', db.url, '--dir', dir]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--schemas nobody_\*: no schema of postgres:\/\/postgres:\*\*\*@\S+ matches/);
});

test('the config\'s "targets" list, with ${ENV_VAR} URLs, is the fleet when no database is given', async (t) => {
  const [db] = await Promise.all([freshDb(t)]);
  const { root } = writeMigrations(t, MIGRATIONS);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ sqlmig: { dir: 'sql', targets: [{ name: 'main', url: '${FLEET_MAIN_URL}' }] } }));
  const r = await runCli(['up'], { cwd: root, env: { FLEET_MAIN_URL: db.url } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok\s+main\s+/m);
  assert.deepEqual(await versions(db), [1, 2]);
  const unset = await runCli(['status'], { cwd: root });
  assert.equal(unset.code, 2);
  assert.match(unset.stderr, /package\.json "sqlmig"\.targets\[0\]: \$\{FLEET_MAIN_URL\} is not set/);
});

test('a database whose sessions are read-only is refused before anything runs (exit 3), alone or in a fleet', async (t) => {
  const [ro, rw] = await Promise.all([freshDb(t), freshDb(t)]);
  await ro.sql.unsafe(`alter database ${ro.name} set default_transaction_read_only = on`);
  const { dir } = writeMigrations(t, MIGRATIONS);
  const alone = await runCli(['up', '--url', ro.url, '--dir', dir]);
  assert.equal(alone.code, 3, alone.stderr);
  assert.match(alone.stderr, new RegExp(`postgres://postgres:\\*\\*\\*@[^ ]+/${ro.name} accepts no writes: default_transaction_read_only is on .*nothing was run`));
  const status = await runCli(['status', '--url', ro.url, '--dir', dir]);
  assert.equal(status.code, 0, status.stderr);
  const fleet = await runCli(['up', '--targets', targetsFile(t, [`replica=${ro.url}`, `primary=${rw.url}`]), '--dir', dir]);
  assert.equal(fleet.code, 3, fleet.stderr);
  assert.match(fleet.stdout, /^FAILED\s+replica\s+.*exit 3: .*accepts no writes/m);
  assert.deepEqual([await versions(ro), await versions(rw)], [null, [1, 2]]);
});

test('a real hot standby (a pg_basebackup copy of the test server) is refused with exit 3', async (t) => {
  let basebackup: string, pgCtl: string;
  try {
    [basebackup, pgCtl] = [findPgBin('pg_basebackup'), findPgBin('pg_ctl')];
  } catch {
    return t.skip('no pg_basebackup / pg_ctl here: the simulated standby above covers the refusal');
  }
  const server = new URL(await adminUrl());
  const root = mkdtempSync(join(tmpdirForNobody(), 'sqlmig-standby-'));
  const owner = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  if (owner.uid !== undefined) chownSync(root, owner.uid, owner.gid!);
  const data = join(root, 'data');
  const run = (file: string, args: string[]) => spawnSync(file, args, { ...owner, cwd: root, encoding: 'utf8', env: { ...process.env, PGPASSWORD: decodeURIComponent(server.password), LC_ALL: 'C' } });
  const copy = run(basebackup, ['-h', server.hostname, '-p', server.port || '5432', '-U', decodeURIComponent(server.username), '-D', data, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
  if (copy.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    return t.skip(`pg_basebackup could not copy the test server (${copy.stderr.trim().split('\n')[0]}): the simulated standby above covers the refusal`);
  }
  t.after(() => {
    run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
    rmSync(root, { recursive: true, force: true });
  });
  const port = await onFreePort(join(root, 'log'), (p) => {
    const started = run(pgCtl, ['-D', data, '-o', `-p ${p} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${root} -c max_connections=500 -c fsync=off`, '-l', join(root, 'log'), '-w', '-t', '30', 'start']);
    if (started.status !== 0) throw new Error(`the standby did not start: ${started.stderr}${readFileSync(join(root, 'log'), 'utf8')}`);
  });
  const standby = new URL(server.toString());
  standby.hostname = '127.0.0.1';
  standby.port = String(port);
  const { dir } = writeMigrations(t, MIGRATIONS);
  const r = await runCli(['up', '--url', standby.toString(), '--dir', dir]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`postgres://\\S+:\\*\\*\\*@127\\.0\\.0\\.1:${port}/\\S* is a read-only standby \\(pg_is_in_recovery\\(\\) is true\\); nothing was run\\. Point sqlmig at the primary\\.`));
  const status = await runCli(['status', '--url', standby.toString(), '--dir', dir]);
  assert.equal(status.code, 0, status.stderr);
  const nothingPending = await runCli(['up', '--url', standby.toString(), '--dir', writeMigrations(t, {}).dir]);
  assert.equal(nothingPending.code, 3, nothingPending.stdout + nothingPending.stderr);
  const dryRun = await runCli(['up', '--dry-run', '--url', standby.toString(), '--dir', dir]);
  assert.equal(dryRun.code, 0, dryRun.stderr);
  for (const command of ['verify', 'drift']) {
    const r = await runCli([command, '--url', standby.toString(), '--dir', dir]);
    assert.equal(r.code, 0, `${command}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /is a read-only standby, so no temporary database can be made there; using an embedded PGlite/, command);
  }
});


test('a target whose up waited for another runner reports the version read once it held the lock (fleet and single target)', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, MIGRATIONS);
  const first = await runCli(['up', '--url', db.url, '--dir', dir, '--to', '001']);
  assert.equal(first.code, 0, first.stderr);
  const url = new URL(db.url);
  url.searchParams.set('application_name', 'fleet_waiter');
  for (const fleet of [true, false]) {
    // Another runner: holds the lock, and by the time it lets go it has applied 002 (then reverted for the next round).
    const other = await db.sql.reserve();
    await other`select pg_advisory_lock(${lockKey({ schema: 'public', table: 'sqlmig_history' }).toString()}::bigint)`;
    const args = fleet ? ['--targets', targetsFile(t, [`waiter=${url}`])] : ['--url', url.toString(), '--json'];
    const waiting = spawnCli(['up', '--dir', dir, '--lock-timeout', '60s', ...args]);
    // Its lock session is open: it has read the version (001) and now polls for the lock.
    for (;;) {
      const [row] = await db.sql`select count(*)::int as n from pg_stat_activity where application_name = 'fleet_waiter'`;
      if (row!['n'] >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await other.unsafe(`create table two (id int);
      insert into sqlmig_history (version, name, checksum, up_sql, down_sql)
      values (2, 'two', '${checksum(normalizeText(MIGRATIONS['002_two.up.sql']))}', '${MIGRATIONS['002_two.up.sql']}', '${MIGRATIONS['002_two.down.sql']}')`);
    await other`select pg_advisory_unlock_all()`;
    other.release();
    const r = await waiting.done;
    assert.equal(r.code, 0, r.stderr);
    if (fleet) assert.match(r.stdout, /^ok\s+waiter\s+.*002 → 002\s+0 applied/m);
    else assert.deepEqual(JSON.parse(r.stdout), { applied: [], reverted: [], before: '002' });
    await db.sql.unsafe('drop table two; delete from sqlmig_history where version = 2');
  }
});
