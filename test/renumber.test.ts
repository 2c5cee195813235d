/** renumber moves a branch's conflicting migration together with the pending ones after it, keeping their order. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { planRenumber } from '../lib/commands/integrity.js';
import type { MigrationFile } from '../lib/migrations/files.js';
import type { AppliedMigration } from '../lib/runner/history.js';
import { reconcile } from '../lib/runner/plan.js';
import { closeAdmin, freshDb, runCli, writeMigrations, type FreshDb } from './support/helpers.js';

after(closeAdmin);

const file = (v: number, name: string, width = 3): MigrationFile => {
  const versionText = String(v).padStart(width, '0');
  return {
    version: BigInt(v), versionText, name, id: `${versionText}_${name}`, upFile: `${versionText}_${name}.up.sql`,
    downFile: `${versionText}_${name}.down.sql`, upSql: '', downSql: '', checksum: `c${v}${name}`,
    directives: { noTransaction: false, downNoTransaction: false, lintIgnores: [], problems: [] },
  };
};
const row = (v: number, name: string): AppliedMigration => ({
  version: BigInt(v), name, checksum: `c${v}${name}`, appliedAt: new Date(0), appliedBy: 'u', durationMs: 1, transactional: true, stamped: false,
});
const ups = (renames: { from: string; to: string }[]) => renames.filter((r) => r.from.endsWith('.up.sql')).map((r) => `${r.from} -> ${r.to}`);

test('planRenumber: the conflicting migration and the pending ones after it move together, in order, after all that stays', () => {
  // alice applied, bob and its follow-up pending.
  assert.deepEqual(ups(planRenumber(reconcile([file(1, 'base'), file(2, 'alice'), file(2, 'bob'), file(3, 'bob_alter')], [row(1, 'base'), row(2, 'alice')]))), [
    '002_bob.up.sql -> 003_bob.up.sql', '003_bob_alter.up.sql -> 004_bob_alter.up.sql',
  ]);
  // Nothing applied: the first of the pair (by name) stays.
  assert.deepEqual(ups(planRenumber(reconcile([file(1, 'base'), file(2, 'alice'), file(2, 'bob'), file(3, 'bob_alter')], []))), [
    '002_bob.up.sql -> 003_bob.up.sql', '003_bob_alter.up.sql -> 004_bob_alter.up.sql',
  ]);
  // bob applied: alice moves; an applied one after the conflict stays, the moved ones go after it.
  assert.deepEqual(ups(planRenumber(reconcile([file(2, 'alice'), file(2, 'bob'), file(3, 'later'), file(4, 'next')], [row(2, 'bob'), row(3, 'later')]))), [
    '002_alice.up.sql -> 004_alice.up.sql', '004_next.up.sql -> 005_next.up.sql',
  ]);
  // A pending one already far enough ahead keeps its version; width is kept; both files move.
  const wide = planRenumber(reconcile([file(1, 'a', 4), file(1, 'b', 4), file(9, 'c', 4)], [row(1, 'a')]));
  assert.deepEqual(wide, [{ from: '0001_b.up.sql', to: '0002_b.up.sql' }, { from: '0001_b.down.sql', to: '0002_b.down.sql' }]);
  // No conflict: nothing moves.
  assert.deepEqual(planRenumber(reconcile([file(1, 'a'), file(2, 'b')], [row(1, 'a')])), []);
});

async function versions(db: FreshDb): Promise<string[]> {
  return (await db.sql`select version::text || '_' || name as v from sqlmig_history order by version`).map((r) => r['v'] as string);
}

test('after a merge, renumber moves 002_bob and its follow-up 003_bob_alter together, and up applies them in order', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, {
    '001_base.up.sql': 'create table base (id int);\n',
    '001_base.down.sql': 'drop table base;\n',
    '002_alice.up.sql': 'create table alice (id int);\n',
    '002_alice.down.sql': 'drop table alice;\n',
  });
  const args = ['--dir', dir, '--url', db.url];
  assert.equal((await runCli(['up', ...args])).code, 0);
  // Bob's branch: 002_bob and a follow-up that alters bob's table, merged after alice's 002 was applied.
  writeFileSync(join(dir, '002_bob.up.sql'), 'create table bob (id int);\n');
  writeFileSync(join(dir, '002_bob.down.sql'), 'drop table bob;\n');
  writeFileSync(join(dir, '003_bob_alter.up.sql'), 'alter table bob add column name text;\n');
  writeFileSync(join(dir, '003_bob_alter.down.sql'), 'alter table bob drop column name;\n');
  const before = readdirSync(dir).sort();

  const dry = await runCli(['renumber', '--dry-run', ...args]);
  assert.equal(dry.code, 0, dry.stderr);
  const planned = dry.stdout.trim().split('\n').map((l) => l.replace(/\S*\//g, ''));
  assert.deepEqual(planned, [
    'would rename 002_bob.up.sql -> 003_bob.up.sql',
    'would rename 002_bob.down.sql -> 003_bob.down.sql',
    'would rename 003_bob_alter.up.sql -> 004_bob_alter.up.sql',
    'would rename 003_bob_alter.down.sql -> 004_bob_alter.down.sql',
  ]);
  assert.deepEqual(readdirSync(dir).sort(), before, 'a dry run renames nothing');

  const r = await runCli(['renumber', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.replace(/\S*\//g, '')), planned.map((l) => l.replace('would rename', 'renamed')));
  assert.deepEqual(readdirSync(dir).sort(), [
    '001_base.down.sql', '001_base.up.sql', '002_alice.down.sql', '002_alice.up.sql',
    '003_bob.down.sql', '003_bob.up.sql', '004_bob_alter.down.sql', '004_bob_alter.up.sql',
  ]);
  const up = await runCli(['up', ...args]);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual(await versions(db), ['1_base', '2_alice', '3_bob', '4_bob_alter']);
  assert.equal((await db.sql`select count(*)::int as n from information_schema.columns where table_name = 'bob' and column_name = 'name'`)[0]!['n'], 1);
});
