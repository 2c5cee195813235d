/** What the migrations folder may hold: symlinks are followed, anything else named like a migration is refused. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { permissionsHold } from './support/unprivileged.js';
import { closeAdmin, freshDb, runCli, writeMigrations, type FreshDb, versions } from './support/helpers.js';

after(closeAdmin);

test('a symlinked migration file is followed and applied like any other', async (t) => {
  const db = await freshDb(t);
  const { dir, root } = writeMigrations(t, { '001_a.up.sql': 'create table a (id int);\n' });
  const shared = join(root, 'shared');
  mkdirSync(shared);
  writeFileSync(join(shared, 'b.up.sql'), 'create table b (id int);\n');
  writeFileSync(join(shared, 'b.down.sql'), 'drop table b;\n');
  symlinkSync(join(shared, 'b.up.sql'), join(dir, '002_b.up.sql'));
  symlinkSync('../shared/b.down.sql', join(dir, '002_b.down.sql'));
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await versions(db), ['1', '2']);
  const down = await runCli(['down', '--dir', dir, '--url', db.url]);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await versions(db), ['1']);
});

test('a broken symlink, a symlink loop, a folder, a link to a folder and a pipe named like migrations are refused, each named', async (t) => {
  const db = await freshDb(t);
  const { dir, root } = writeMigrations(t, { '001_a.up.sql': 'create table a (id int);\n' });
  symlinkSync(join(root, 'nowhere.sql'), join(dir, '002_broken.up.sql'));
  symlinkSync('003_loop.up.sql', join(dir, '003_loop.up.sql'));
  mkdirSync(join(dir, '004_folder.up.sql'));
  mkdirSync(join(root, 'somewhere'));
  symlinkSync(join(root, 'somewhere'), join(dir, '005_dirlink.up.sql'));
  execFileSync('mkfifo', [join(dir, '006_pipe.up.sql')]);
  mkdirSync(join(dir, 'archive.sql')); // a folder not named like a migration: ignored, like any sub-folder
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /002_broken\.up\.sql: a symbolic link to .*nowhere\.sql, which does not exist/);
  assert.match(r.stderr, /003_loop\.up\.sql: a symbolic link that loops/);
  assert.match(r.stderr, /004_folder\.up\.sql: a folder named like a migration/);
  assert.match(r.stderr, /005_dirlink\.up\.sql: a symbolic link to a folder/);
  assert.match(r.stderr, /006_pipe\.up\.sql: not a regular file/);
  assert.doesNotMatch(r.stderr, /archive/);
  assert.deepEqual(await versions(db), [], 'nothing applied');
  const validate = await runCli(['validate', '--dir', dir, '--url', db.url]);
  assert.equal(validate.code, 3);
  assert.match(validate.stdout, /5 problems found/);
});

test('a UTF-16 file, with or without a byte order mark, is refused: save it as UTF-8', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_a.up.sql': 'create table a (id int);\n' });
  const sql = 'create table b (id int);\n';
  writeFileSync(join(dir, '002_bom.up.sql'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(sql, 'utf16le')]));
  writeFileSync(join(dir, '003_be.up.sql'), Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(sql, 'utf16le').swap16()]));
  writeFileSync(join(dir, '004_nobom.up.sql'), Buffer.from(sql, 'utf16le'));
  writeFileSync(join(dir, '004_nobom.down.sql'), 'drop table b;\n');
  const r = await runCli(['up', '--dir', dir, '--url', db.url]);
  assert.equal(r.code, 3, r.stderr);
  for (const file of ['002_bom.up.sql', '003_be.up.sql', '004_nobom.up.sql']) {
    assert.match(r.stderr, new RegExp(`${file.replace(/\./g, '\\.')}: file is UTF-16 \\(or binary\\); save it as UTF-8`));
  }
  assert.doesNotMatch(r.stderr, /invalid message format/);
  assert.deepEqual(await versions(db), []);
});

test('an unreadable migration file: exit 3 naming the file and the fix, not a bare EACCES', async (t) => {
  const how = permissionsHold();
  if (typeof how === 'string') return t.skip(how);
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, { '001_a.up.sql': 'create table a (id int);\n', '002_secret.up.sql': 'create table s (id int);\n' });
  chmodSync(join(dir, '002_secret.up.sql'), 0o000);
  const r = await runCli(['up', '--dir', dir, '--url', db.url], { prefix: how.prefix });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /002_secret\.up\.sql: cannot read it \(permission denied\); make it readable for the user running sqlmig, e\.g\. chmod a\+r /);
  assert.deepEqual(await versions(db), []);
});

test('a name that is nearly a migration\'s is refused with the name it may have meant; a version past bigint says so', async (t) => {
  const { dir } = writeMigrations(t, {
    '20191100000001000000_pop_style.up.sql': 'select 1;',
    '0021_alter_webhooks_up.sql': 'select 1;',
    '2_Bad-Name.up.sql': 'select 1;',
    '0004_Initial.Schema.down.sql': 'select 1;',
    '003_x.sql': 'select 1;',
  });
  const r = await runCli(['up', '--dir', dir, '--url', 'pglite:memory']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /20191100000001000000_pop_style\.up\.sql: its version 20191100000001000000 is larger than the largest sqlmig stores \(9223372036854775807, a bigint\)/);
  assert.match(r.stderr, /0021_alter_webhooks_up\.sql: not a migration name; .*; rename it 0021_alter_webhooks\.up\.sql\n/);
  assert.match(r.stderr, /2_Bad-Name\.up\.sql: not a migration name; .*; rename it 2_bad_name\.up\.sql\n/);
  assert.match(r.stderr, /0004_Initial\.Schema\.down\.sql: not a migration name; .*; rename it 0004_initial_schema\.down\.sql\n/);
  assert.match(r.stderr, /003_x\.sql: not a migration name; expected NNN_name\.up\.sql or NNN_name\.down\.sql \(name is lowercase a-z, 0-9 and _\)\n/);
});
