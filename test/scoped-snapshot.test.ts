/**
 * verify's scoped reads (schema/snapshot.ts takeScopedSnapshot, schema/unchanged.ts changesSince and
 * deletedSince) against the whole snapshot they stand in for.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../lib/db/index.js';
import { connectPglite } from '../lib/db/pglite.js';
import { connectServer } from '../lib/db/server.js';
import { takeSchemaSnapshot, takeScopedSnapshot, type ObjectScope } from '../lib/schema/snapshot.js';
import { changesSince, deletedSince, markCatalogs } from '../lib/schema/unchanged.js';
import { syntheticHistory } from '../scripts/fixtures/history.js';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const history = { schema: 'public', table: 'sqlmig_history' };

function historyFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  syntheticHistory({ count: 25, renames: true }).forEach((m, i) => {
    files[`${String(i + 1).padStart(3, '0')}_${m.name}.up.sql`] = m.up;
  });
  return files;
}

async function everything(db: Db): Promise<ObjectScope> {
  const oids = async (sql: string) => (await db.query<{ oid: string }>(sql)).map((r) => String(r.oid));
  return {
    relations: await oids('select oid::text as oid from pg_class where oid >= 16384'),
    types: await oids('select oid::text as oid from pg_type where oid >= 16384'),
    functions: await oids('select oid::text as oid from pg_proc where oid >= 16384'),
    namespaces: await oids('select oid::text as oid from pg_namespace'),
  };
}

for (const where of ['server', 'PGlite'] as const) {
  test(`a scoped snapshot of every object reads what the whole snapshot reads, definitions printed afresh (${where})`, async (t) => {
    const { dir, root } = writeMigrations(t, historyFiles());
    const url = where === 'server' ? (await freshDb(t)).url : await freshPglite(root);
    const up = await runCli(['up', '--quiet', '--dir', dir, '--url', url]);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const db = where === 'server' ? await connectServer(url) : await connectPglite(url.slice('pglite:'.length), { lockTimeoutMs: 5000 });
    const whole = await takeSchemaSnapshot(db, history);
    const scoped = await takeScopedSnapshot(db, history, await everything(db));
    const none = await takeScopedSnapshot(db, history, { relations: [], types: [], functions: [], namespaces: [] });
    await db.close(); // before the folder goes
    assert.ok(Object.keys(whole.views).length > 5 && Object.keys(whole.functions).length > 5 && Object.keys(whole.extensions).length > 0);
    // Extensions are never scoped: a migration that changes one is compared whole.
    assert.deepEqual(scoped.schema, { ...whole, extensions: {} });
    assert.deepEqual(Object.values(none.schema).map((group) => Object.keys(group).length), Object.values(whole).map(() => 0));
    assert.equal(none.printSettings, scoped.printSettings);
  });
}

test('changesSince names the objects a down wrote, deletedSince those it deleted; a collation makes it unscoped', async (t) => {
  const fresh = await freshDb(t);
  const db = await connectServer(fresh.url);
  t.after(() => db.close());
  await db.exec(`create table kept (id int primary key, name text);
create table gone (id int);
create view shown as select id, name from kept;
comment on column kept.name is 'the name';`);
  const oid = async (name: string, on = db) => String((await on.query<{ oid: string }>(`select '${name}'::regclass::oid::text as oid`))[0]!.oid);
  const [kept, gone, shown] = [await oid('kept'), await oid('gone'), await oid('shown')];
  const rollback = new Error('rollback');
  await db.transaction(async (tx) => {
    const mark = await markCatalogs(tx, db);
    await tx.exec('savepoint before_up');
    assert.equal(await changesSince(tx, db, mark), 'unchanged');
    await tx.exec(`alter table kept rename column name to title;
alter table kept rename column title to name;
drop table gone;
drop view shown;
create view shown as select id, name from kept;`);
    const changes = await changesSince(tx, db, mark);
    assert.ok(typeof changes === 'object');
    const newShown = await oid('shown', tx);
    assert.notEqual(newShown, shown);
    assert.ok(changes.written.relations.includes(kept), 'the renamed column is a written row of kept');
    assert.ok(changes.written.relations.includes(newShown), 'the view created again');
    assert.ok(!changes.written.relations.includes(gone));
    await tx.exec('rollback to savepoint before_up');
    const deleted = await deletedSince(tx, changes);
    assert.ok(deleted);
    for (const relation of [kept, gone, shown]) assert.ok(deleted.relations.includes(relation), `${relation} lost rows`);
    await tx.exec('create collation sqlmig_c (locale = \'C\')');
    assert.equal(await changesSince(tx, db, mark), 'unscoped');
    throw rollback;
  }).catch((error: unknown) => {
    if (error !== rollback) throw error;
  });
});
