/** diff stopped by a signal: the target was never touched, and the words say so (not the scratch run's). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, scratchRunning, spawnCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const cases = [
  { signal: 'SIGTERM', code: 143, where: 'while the migrations are replayed', sleepsIn: 'migration' },
  { signal: 'SIGINT', code: 130, where: 'while the schema file is built', sleepsIn: 'schema' },
] as const;

for (const { signal, code, where, sleepsIn } of cases) {
  test(`diff interrupted by ${signal} ${where}: exit ${code}, says the target is unchanged, nothing written, scratch dropped`, async (t) => {
    const db = await freshDb(t);
    const marker = `nap_${randomBytes(4).toString('hex')}`;
    const sleep = `select pg_sleep(600), '${marker}' as marker`;
    // A schema file may not call pg_sleep itself: a materialized view over a function that does is filled when it is made.
    const slowSchema = `create function ${marker}() returns text language sql as $$ select 'x' from pg_sleep(600) $$;\ncreate materialized view slow as select ${marker}() as marker;\n`;
    const { root, dir } = writeMigrations(t, {
      '001_m1.up.sql': 'create table m1 (id int);', '001_m1.down.sql': 'drop table m1;',
      '002_m2.up.sql': 'create table m2 (id int);', '002_m2.down.sql': 'drop table m2;',
      '003_m3.up.sql': `${sleepsIn === 'migration' ? `${sleep};\n` : ''}create table m3 (id int);`, '003_m3.down.sql': 'drop table m3;',
    });
    const schema = join(root, 'schema.sql');
    writeFileSync(schema, `create table m1 (id int);\ncreate table m2 (id int);\ncreate table m3 (id int);\ncreate table m4 (id int);\n${sleepsIn === 'schema' ? slowSchema : ''}`);
    const run = spawnCli(['diff', '--schema-file', schema, '--dir', dir, '--url', db.url]);
    t.after(() => { run.child.kill('SIGKILL'); });
    const scratch = await scratchRunning(db, marker);
    run.child.kill(signal);
    const r = await run.done;

    assert.equal(r.code, code, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`interrupted by ${signal}: diff stopped before it finished, on its scratch database \\S+/${scratch}, which is dropped\\. Nothing of the database at \\S+/${db.name} changed \\(diff never migrates it\\), and no migration file was written\\.`));
    assert.doesNotMatch(r.stderr, /Completed:|rolled back|Not run:/, 'the scratch run\'s words read as if the target had been migrated');
    assert.deepEqual(readdirSync(dir).sort(), ['001_m1.down.sql', '001_m1.up.sql', '002_m2.down.sql', '002_m2.up.sql', '003_m3.down.sql', '003_m3.up.sql']);
    assert.equal((await db.sql`select 1 from pg_class where relnamespace = 'public'::regnamespace`).length, 0, 'diff changed the target');
    assert.equal((await db.sql`select 1 from pg_database where datname = ${scratch}`).length, 0, 'the scratch database is dropped');
  });
}
