import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { adminUrl, closeAdmin, freshDb, freshPglite, runCli, spawnCli, waitFor, writeMigrations, type CliResult, type FreshDb, type RunOptions, versions } from './support/helpers.js';
import { permissionsHold } from './support/unprivileged.js';
import { findPgBin, TEST_PASSWORD } from './support/server.js';
import { PGlite } from '@electric-sql/pglite';

after(closeAdmin);

const users = {
  '001_users.up.sql': 'create table users (id int primary key, name text not null);',
  '001_users.down.sql': 'drop table users;',
  '002_posts.up.sql': 'create table posts (id int primary key, user_id int references users);',
  '002_posts.down.sql': 'drop table posts;',
  '003_tags.up.sql': 'create table tags (id int primary key);',
  '003_tags.down.sql': 'drop table tags;',
};

async function tables(db: FreshDb): Promise<string[]> {
  const rows = await db.sql`select tablename from pg_tables where schemaname = 'public' and tablename <> 'sqlmig_history' order by 1`;
  return rows.map((r) => r['tablename'] as string);
}

/** What `pg_restore --list` says an archive holds: "TABLE public users" lines. */
function archivedTables(file: string): string[] {
  const listing = execFileSync(findPgBin('pg_restore'), ['--list', file], { encoding: 'utf8' });
  return [...listing.matchAll(/^\d+; \d+ \d+ TABLE (?!DATA )(\S+) (\S+)/gm)].map((m) => `${m[1]}.${m[2]}`).sort();
}

/** A `pg_dump` first on PATH that logs its arguments and whether PGPASSWORD is set, then runs the real one. */
function recordingPgDump(root: string, reportVersion?: string): { path: string; log: string } {
  const bin = join(root, 'recorder-bin');
  mkdirSync(bin, { recursive: true });
  const log = join(root, 'pg_dump.log');
  const version = reportVersion ? `if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) ${reportVersion}"; exit 0; fi\n` : '';
  writeFileSync(join(bin, 'pg_dump'), `#!/bin/sh
{ echo "ARGV: $*"; if [ -n "$PGPASSWORD" ]; then echo "PGPASSWORD: set"; fi; } >> '${log}'
${version}exec '${findPgBin('pg_dump')}' "$@"
`);
  chmodSync(join(bin, 'pg_dump'), 0o755);
  return { path: `${bin}:${process.env['PATH']}`, log };
}

test('backup writes a 0600 custom-format archive named after the database, the UTC time and the version', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  await runCli(['up', '--to', '002', '--dir', dir, '--url', db.url]);
  const backups = join(root, 'backups');
  const r = await runCli(['backup', '--json', '--backup-dir', backups, '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.version, '002_posts');
  assert.equal(result.format, 'custom');
  assert.match(result.database, /^postgres:\/\/postgres:\*\*\*@/);
  assert.ok(!r.stdout.includes(TEST_PASSWORD) && !r.stderr.includes(TEST_PASSWORD));
  assert.deepEqual(readdirSync(backups), [result.file.slice(backups.length + 1)]);
  assert.match(result.file, new RegExp(`/${db.name}-\\d{8}T\\d{6}Z-v002\\.dump$`));
  assert.equal(statSync(result.file).mode & 0o777, 0o600);
  assert.equal(statSync(result.file).size, result.bytes);
  assert.deepEqual(archivedTables(result.file), ['public.posts', 'public.sqlmig_history', 'public.users']);

  const text = await runCli(['backup', '--out', join(root, 'elsewhere', 'named.dump'), '--dir', dir, '--url', db.url]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^backup of postgres:\/\/postgres:\*\*\*@\S+ at 002_posts written to \S*named\.dump \(\d+(\.\d)? KB\)$/m);
  assert.equal(statSync(join(root, 'elsewhere', 'named.dump')).mode & 0o777, 0o600);
});

test('up --backup dumps the database as it was before applying; --dry-run and "nothing to do" take no backup', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  const backups = join(root, 'backups');
  const args = ['--backup-dir', backups, '--dir', dir, '--url', db.url];
  await runCli(['up', '--to', '001', ...args]);

  const dry = await runCli(['up', '--backup', '--dry-run', ...args]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(existsSync(backups), false, '--dry-run took a backup');

  const r = await runCli(['up', '--backup', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^backup of \S+ at 001_users written to .*-v001\.dump/m);
  assert.match(r.stdout, /applied\s+003_tags/);
  // The backup line comes as soon as the backup is written, before the first migration runs.
  const lines = r.stdout.split('\n');
  assert.ok(lines.findIndex((l) => l.startsWith('backup of ')) < lines.findIndex((l) => /applied\s+002_/.test(l)), r.stdout);
  assert.equal(lines.filter((l) => l.startsWith('backup of ')).length, 1, 'the backup line is printed once');
  const [file] = readdirSync(backups);
  assert.deepEqual(archivedTables(join(backups, file!)), ['public.sqlmig_history', 'public.users']);

  const none = await runCli(['up', '--backup', ...args]);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /nothing to do/);
  assert.equal(readdirSync(backups).length, 1, '--backup with nothing pending took a backup');

  const down = await runCli(['down', '--backup', '--json', ...args]);
  assert.equal(down.code, 0, down.stderr);
  const json = JSON.parse(down.stdout);
  assert.equal(json.backup.version, '003_tags');
  assert.deepEqual(json.reverted.map((s: { name: string }) => s.name), ['tags']);
  assert.deepEqual(archivedTables(json.backup.file), ['public.posts', 'public.sqlmig_history', 'public.tags', 'public.users']);
});

test('a backup folder that cannot be created fails with exit 6: nothing applied, nothing written', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  writeFileSync(join(root, 'not-a-folder'), 'a regular file\n');
  const r = await runCli(['up', '--backup', '--backup-dir', join(root, 'not-a-folder', 'backups'), '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /cannot use the backup folder .*not-a-folder\/backups: .*not-a-folder is a file, not a folder\. Choose a folder you can write to with --backup-dir DIR .*Nothing was changed/);
  assert.deepEqual(await tables(db), []);
  assert.deepEqual(await versions(db), []);
  assert.equal(readFileSync(join(root, 'not-a-folder'), 'utf8'), 'a regular file\n');
});

/** Run the CLI, but never wait longer than `limitMs`: a hang ends as a SIGKILL (code 137), not as a stuck test. */
async function runBounded(args: string[], limitMs = 60_000, options: RunOptions = {}): Promise<CliResult> {
  const { child, done } = spawnCli(args, options);
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

test('a backup folder under /proc (where mkdir never gives up) fails with exit 6 at once: nothing applied', { skip: !existsSync('/proc/self') && 'no /proc here' }, async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  const r = await runBounded(['up', '--backup', '--backup-dir', '/proc/sqlmig-no-such/backups', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 6, r.stderr);
  // As root, mkdir itself fails there; as another user, /proc is not writable in the first place.
  assert.match(r.stderr, /cannot use the backup folder \/proc\/sqlmig-no-such\/backups: (cannot create \/proc\/sqlmig-no-such: the file system of \/proc does not allow new folders \(ENOENT\)|cannot create folders in \/proc: permission denied \(EACCES\))\. Choose a folder you can write to with --backup-dir DIR/);
  assert.match(r.stderr, /Nothing was changed/);
  assert.deepEqual(await tables(db), []);
  assert.deepEqual(await versions(db), []);

  const out = await runBounded(['backup', '--out', '/proc/sqlmig-no-such/db.dump', '--dir', dir, '--url', db.url]);
  assert.equal(out.code, 6, out.stderr);
  assert.match(out.stderr, /cannot use the backup folder \/proc\/sqlmig-no-such: .*Choose a folder you can write to with --out FILE/);
});

test('a backup folder where folders may not be made fails with exit 6 naming the reason: nothing applied', { skip: !existsSync('/sys/kernel') && 'no /sys here' }, async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, users);
  const r = await runBounded(['up', '--backup', '--backup-dir', '/sys/sqlmig-no-such', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /cannot use the backup folder \/sys\/sqlmig-no-such: cannot create (\/sys\/sqlmig-no-such|folders in \/sys): permission denied \((EPERM|EACCES)\)\. Choose a folder you can write to with --backup-dir DIR/);
  assert.deepEqual(await versions(db), []);
});

test('a backup folder that exists but cannot be written fails with exit 6: nothing applied', async (t) => {
  const how = permissionsHold();
  if (typeof how === 'string') return t.skip(how);
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  const locked = join(root, 'locked');
  mkdirSync(locked, { mode: 0o500 });
  const r = await runBounded(['up', '--backup', '--backup-dir', join(locked, 'backups'), '--dir', dir, '--url', db.url], 60_000, { prefix: how.prefix });
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /cannot create folders in .*locked: permission denied \(EACCES\)\. Choose a folder you can write to with --backup-dir DIR/);
  assert.deepEqual(await versions(db), []);
});

test('SIGTERM while pg_dump waits for a table lock exits 143: no file, no pg_dump left, nothing applied', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  await runCli(['up', '--to', '001', '--dir', dir, '--url', db.url]);
  const holder = await db.sql.reserve();
  t.after(async () => { await holder.unsafe('rollback').catch(() => {}); holder.release(); });
  await holder.unsafe('begin');
  await holder.unsafe('lock table users in access exclusive mode');
  const backups = join(root, 'backups');
  const run = spawnCli(['up', '--backup', '--backup-dir', backups, '--dir', dir, '--url', db.url]);
  t.after(() => { run.child.kill('SIGKILL'); });
  const dumpWaiting = async () => (await db.sql`select count(*)::int as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock' and query ilike 'lock table%'`)[0]!['n'] as number;
  await waitFor(async () => (await dumpWaiting()) > 0, 'pg_dump to wait for the lock on users');
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.equal(r.code, 143, r.stderr);
  await waitFor(async () => (await dumpWaiting()) === 0, 'the pg_dump session to end');
  assert.deepEqual(existsSync(backups) ? readdirSync(backups) : [], [], 'a partial backup was left');
  assert.deepEqual(await versions(db), ['1']);
});

test('pg_dump failing half-way fails with exit 6: nothing applied and no partial file left', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  // A role that owns the database but may not read one table: pg_dump stops with "permission denied".
  const role = `sqlmig_limited_${db.name.slice(-8)}`;
  await db.sql.unsafe(`create role ${role} login password '${TEST_PASSWORD}'`);
  t.after(async () => {
    const admin = postgres(await adminUrl(), { max: 1, onnotice: () => {} });
    await admin.unsafe(`alter database ${db.name} owner to postgres`).catch(() => {}); // already dropped
    await admin.unsafe(`drop role if exists ${role}`);
    await admin.end({ timeout: 1 });
  });
  await db.sql.unsafe(`alter database ${db.name} owner to ${role}`);
  await db.sql`create table secret (id int)`;
  const url = new URL(db.url);
  url.username = role;
  const backups = join(root, 'backups');
  const r = await runCli(['up', '--backup', '--backup-dir', backups, '--dir', dir, '--url', url.toString()]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /pg_dump \(.*\) failed: .*permission denied for table secret/);
  assert.ok(!r.stderr.includes(TEST_PASSWORD));
  assert.deepEqual(await tables(db), ['secret']);
  assert.deepEqual(await versions(db), []);
  assert.deepEqual(readdirSync(backups), [], 'a partial backup file was left behind');
});

test('pg_dump gets the password through its environment, never its arguments', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  const recorder = recordingPgDump(root);
  const r = await runCli(['up', '--backup', '--backup-dir', join(root, 'backups'), '--dir', dir, '--url', db.url], { env: { PATH: recorder.path } });
  assert.equal(r.code, 0, r.stderr);
  const log = readFileSync(recorder.log, 'utf8');
  assert.match(log, /^ARGV: .*--format=custom .*--dbname=sqlmig_t_/m, 'the recorder on PATH was not the pg_dump used');
  assert.match(log, /^PGPASSWORD: set$/m);
  assert.ok(!log.includes(TEST_PASSWORD), `the password is in pg_dump's arguments:\n${log}`);
  assert.ok(!log.includes('postgres://'), `a URL is in pg_dump's arguments:\n${log}`);
  assert.deepEqual(await versions(db), ['1', '2', '3']);
});

test('a pg_dump older than the server is passed over for a new enough one', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  const old = recordingPgDump(root, '11.22');
  const r = await runCli(['backup', '--backup-dir', join(root, 'backups'), '--dir', dir, '--url', db.url], { env: { PATH: old.path } });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(readFileSync(old.log, 'utf8'), /--format=custom/);
  assert.equal(readdirSync(join(root, 'backups')).length, 1);
});

test('backup, down --all, restore --force: tables, rows and history are back; without --force nothing changes', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', ...args]);
  await db.sql`insert into users values (1, 'ada')`;
  const b = JSON.parse((await runCli(['backup', '--json', '--backup-dir', join(root, 'backups'), ...args])).stdout);

  const refused = await runCli(['restore', b.file, ...args]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /restore would overwrite postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/sqlmig_t_\w+ \(current version 003_tags\)/);
  assert.match(refused.stderr, /--force/);
  assert.ok(!refused.stderr.includes(TEST_PASSWORD));

  assert.equal((await runCli(['down', '--all', ...args])).code, 0);
  assert.deepEqual(await tables(db), []);
  await db.sql`insert into sqlmig_history (version, name, checksum, up_sql) values (99, 'not_in_backup', 'x', 'select 1')`;
  const refusedAgain = await runCli(['restore', b.file, ...args]);
  assert.equal(refusedAgain.code, 2);
  assert.deepEqual(await versions(db), ['99'], 'restore without --force changed something');

  const r = await runCli(['restore', b.file, '--force', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /restored .* into postgres:\/\/postgres:\*\*\*@\S+: version 099_not_in_backup -> 003_tags/);
  assert.deepEqual(await tables(db), ['posts', 'tags', 'users']);
  assert.deepEqual((await db.sql`select name from users`).map((x) => x['name']), ['ada']);
  const status = JSON.parse((await runCli(['status', '--json', ...args])).stdout);
  assert.deepEqual(status.migrations.map((m: { state: string }) => m.state), ['applied', 'applied', 'applied']);
  assert.equal(status.current, '003');
});

test('restore leaves tables that are not in the backup and says so', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, { '001_users.up.sql': users['001_users.up.sql'], '002_tags.up.sql': users['003_tags.up.sql'] });
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', '--to', '001', ...args]);
  const b = JSON.parse((await runCli(['backup', '--json', '--backup-dir', join(root, 'backups'), ...args])).stdout);
  await runCli(['up', ...args]);
  const r = await runCli(['restore', b.file, '--force', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /version 002_tags -> 001_users/);
  assert.match(r.stderr, /warning: not in the backup, so left as they are: public\.tags\./);
  assert.deepEqual(await versions(db), ['1']);
});

test('restore blocked by a newer table that references the backup\'s tables fails with exit 6, changes nothing, and says what to revert', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  const args = ['--dir', dir, '--url', db.url];
  await runCli(['up', '--to', '001', ...args]);
  const b = JSON.parse((await runCli(['backup', '--json', '--backup-dir', join(root, 'backups'), ...args])).stdout);
  await runCli(['up', ...args]);
  await db.sql`insert into users values (7, 'kept')`;

  const r = await runCli(['restore', b.file, '--force', ...args]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /restore of .* failed; it ran in one transaction, so nothing was changed: pg_restore [\s\S]*posts_user_id_fkey/);
  assert.match(r.stderr, /not in the backup and may be what blocks it: public\.posts, public\.tags\. Revert the migrations applied since the backup first \(sqlmig down --to 001\)/);
  assert.deepEqual(await versions(db), ['1', '2', '3']);
  assert.deepEqual((await db.sql`select name from users`).map((x) => x['name']), ['kept']);

  assert.equal((await runCli(['down', '--to', '001', ...args])).code, 0);
  const again = await runCli(['restore', b.file, '--force', ...args]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual((await db.sql`select count(*)::int as n from users`)[0]!['n'], 0);
});

test('restore of a file that is not a backup, or a missing file, is a usage error that changes nothing', async (t) => {
  const db = await freshDb(t);
  const { root, dir } = writeMigrations(t, users);
  await runCli(['up', '--dir', dir, '--url', db.url]);
  writeFileSync(join(root, 'notes.txt'), 'hello\n');
  const bad = await runCli(['restore', join(root, 'notes.txt'), '--force', '--dir', dir, '--url', db.url]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /is not a backup made by sqlmig backup/);
  const missing = await runCli(['restore', join(root, 'nope.dump'), '--force', '--dir', dir, '--url', db.url]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.dump does not exist/);
  assert.deepEqual(await versions(db), ['1', '2', '3']);
});

test('PGlite: backup writes plain SQL (0600), restore --force puts tables, rows and history back', async (t) => {
  const { root, dir } = writeMigrations(t, {
    ...users,
    '004_user_names.up.sql': 'create view user_names as select name from users;\ninsert into users values (2, \'grace\');',
    '004_user_names.down.sql': 'drop view user_names;\ndelete from users where id = 2;',
  });
  const url = await freshPglite(root);
  const args = ['--backup-dir', join(root, 'backups'), '--dir', dir, '--url', url];
  assert.equal((await runCli(['up', '--to', '003', ...args])).code, 0);

  // The backup runs on the same embedded session as the migrations after it: they must still work.
  const up = await runCli(['up', '--backup', '--json', ...args]);
  assert.equal(up.code, 0, up.stderr);
  const first = JSON.parse(up.stdout);
  assert.equal(first.backup.format, 'plain');
  assert.match(first.backup.file, /\/pglite-db-\d{8}T\d{6}Z-v003\.sql$/);
  assert.deepEqual(first.applied.map((s: { name: string }) => s.name), ['user_names']);

  const b = JSON.parse((await runCli(['backup', '--json', ...args])).stdout);
  assert.equal(statSync(b.file).mode & 0o777, 0o600);
  assert.match(readFileSync(b.file, 'utf8'), /CREATE TABLE public\.sqlmig_history/);

  assert.equal((await runCli(['down', '--all', ...args])).code, 0);
  assert.equal((await runCli(['restore', b.file, ...args])).code, 2);
  const r = await runCli(['restore', b.file, '--force', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /version \(none\) -> 004_user_names/);
  const status = JSON.parse((await runCli(['status', '--json', ...args])).stdout);
  assert.deepEqual(status.migrations.map((m: { state: string }) => m.state), ['applied', 'applied', 'applied', 'applied']);

  // The restored view and rows are real: reverting the newest migration through them works.
  const down = await runCli(['down', ...args]);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /reverted\s+004_user_names/);
});

test('PGlite: after backup and restore --force, drift finds no drift, also when a migration set or removed the public schema\'s comment; a comment that differs is said in plain words', async (t) => {
  const { root, dir } = writeMigrations(t, users);
  const url = await freshPglite(root);
  const args = ['--backup-dir', join(root, 'backups'), '--dir', dir, '--url', url];
  const roundTrip = async () => {
    const b = JSON.parse((await runCli(['backup', '--json', ...args])).stdout);
    const r = await runCli(['restore', b.file, '--force', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return runCli(['drift', ...args]);
  };
  assert.equal((await runCli(['up', ...args])).code, 0);
  const drift = await roundTrip();
  assert.equal(drift.code, 0, drift.stdout + drift.stderr);

  // Changed by hand: drift says what each side has, in words.
  const pg = new PGlite(url.slice('pglite:'.length));
  await pg.exec('comment on schema public is null');
  await pg.close();
  const byHand = await runCli(['drift', ...args]);
  assert.equal(byHand.code, 3, byHand.stdout);
  assert.match(byHand.stdout, /schema public has no comment in the database, comment 'standard public schema' from the migrations/);

  for (const [name, sql] of [['004_comment', "comment on schema public is 'the app'"], ['005_no_comment', 'comment on schema public is null']] as const) {
    writeFileSync(join(dir, `${name}.up.sql`), `${sql};`);
    writeFileSync(join(dir, `${name}.down.sql`), "comment on schema public is 'standard public schema';");
    const up = await runCli(['up', ...args]);
    assert.equal(up.code, 0, up.stderr);
    const after = await roundTrip();
    assert.equal(after.code, 0, `${name}: ${after.stdout}${after.stderr}`);
  }
});
