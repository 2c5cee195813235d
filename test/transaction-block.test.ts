/**
 * Which statements a file run in a transaction cannot hold (lib/migrations/transaction-block.ts) must be
 * exactly the ones the server refuses there: each statement runs inside BEGIN … ROLLBACK on a real server.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadParser, splitStatements } from '../lib/migrations/sql.js';
import { closeAdmin, freshDb } from './support/helpers.js';

after(closeAdmin);

const STATEMENTS = [
  'create index concurrently t_x_c on t (x)', 'create unique index concurrently if not exists t_id_c on t (id)', 'create index t_x on t (x)',
  'drop index concurrently if exists t_x', 'drop index if exists t_x',
  'reindex (concurrently) table t', 'reindex table concurrently t', 'reindex (concurrently false) table t', 'reindex table t', 'reindex (verbose) index t_pkey',
  'vacuum t', 'vacuum (full) t', 'vacuum (analyze, verbose) t', 'analyze t', 'analyze (verbose) t',
  'cluster', 'cluster t using t_pkey',
  'refresh materialized view concurrently mv', 'refresh materialized view mv',
  'alter table p detach partition p1 concurrently', 'alter table p detach partition p1',
  'discard all', 'discard plans', 'discard temp',
  'create database sqlmig_never', 'drop database if exists sqlmig_never',
  'create tablespace sqlmig_never location \'/nonexistent\'', 'drop tablespace if exists sqlmig_never',
  'alter system set work_mem = \'8MB\'', 'alter system reset all',
  'checkpoint', 'set local lock_timeout = \'1s\'', 'alter type mood add value \'meh\'',
];

test('a statement is refused in a transactional file exactly when PostgreSQL refuses it inside a transaction block', async (t) => {
  const db = await freshDb(t);
  await db.sql.unsafe(`
    create table t (id int primary key, x int);
    create materialized view mv as select id from t;
    create unique index mv_id on mv (id);
    create table p (id int) partition by range (id);
    create table p1 partition of p for values from (0) to (10);
    create type mood as enum ('ok');`);
  const lib = await loadParser();
  const disagreements: string[] = [];
  for (const text of STATEMENTS) {
    const [statement] = splitStatements(lib, text).statements!;
    let refusedByServer = false;
    try {
      await db.sql.begin(async (tx) => {
        await tx.unsafe(text);
        throw new Error('roll back');
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '25001') refusedByServer = true;
      else if ((error as Error).message !== 'roll back' && code === undefined) throw error;
    }
    if (refusedByServer !== Boolean(statement!.outsideTransaction)) {
      disagreements.push(`${text}: server ${refusedByServer ? 'refuses' : 'allows'}, sqlmig says ${statement!.outsideTransaction ?? 'allowed'}`);
    }
  }
  assert.deepEqual(disagreements, []);
  assert.ok(STATEMENTS.some((s) => splitStatements(lib, s).statements![0]!.outsideTransaction), 'some statements are refused');
});
