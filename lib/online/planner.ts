/**
 * Pure: a migration's statements (parse trees) and what existed before it (the catalog facts) → an
 * online plan, or the statements that have no online form and would block. No I/O.
 */
import { applyStatement, existedBefore, type KnownSchema } from '../lint/known.js';
import type { ParsedStatement } from '../lint/parse.js';
import { as, hasOption, tableKey, type Node } from '../lint/tree.js';
import type { loadParser } from '../migrations/sql.js';
import { planAlterTable } from './alter.js';
import { columnsNamed } from './column-refs.js';
import { batchesText } from './batch-size.js';
import { batches, concurrentIndex, inPlaceIfMentioned, renameIndex, transactionStep, type LaterSql } from './forms.js';
import { chooseIndexName } from './names.js';
import { concurrentIndexStatement, helperName, indexStatementOn, mentionedNames, qualified, quoteIdent, textBetween } from './text.js';
import type { Planned, StatementEnv } from './statement-env.js';
import type { OnlinePlan, OnlineRefusal, OnlineStep, PlannerOptions, TableFacts } from './types.js';

type Parser = Awaited<ReturnType<typeof loadParser>>;

export interface PlannerInput {
  lib: Parser;
  migration: string;
  path: string;
  statements: readonly ParsedStatement[];
  transactional: boolean;
  /** The schema before the migration; updated statement by statement as the plan is made. */
  known: KnownSchema;
  facts: ReadonlyMap<string, TableFacts>;
  options: PlannerOptions;
}

export function planOnline(input: PlannerInput): { plan: OnlinePlan; refusals: OnlineRefusal[] } {
  const steps: OnlineStep[] = [];
  const refusals: OnlineRefusal[] = [];
  const notes: string[] = [];
  let asWritten: string[] = [];
  let rewritten = false;
  let later: LaterSql[] | undefined;
  const flush = () => {
    if (!asWritten.length) return;
    if (input.transactional) steps.push(asWrittenStep(asWritten));
    else for (const sql of asWritten) steps.push({ ...asWrittenStep([sql]), run: { kind: 'alone', statement: sql }, retry: false });
    asWritten = [];
  };
  for (const [i, stmt] of input.statements.entries()) {
    const planned = planStatement(input, stmt, i);
    if (planned && 'refuse' in planned) {
      refusals.push({ path: input.path, line: stmt.line, col: stmt.col, statement: firstLine(stmt.sql), why: planned.refuse });
    } else if (planned) {
      flush();
      if (planned.steps.some((s) => s.run.kind === 'at-end')) later ??= laterStatements(input);
      steps.push(...planned.steps.map((s) => (later ? inPlaceIfMentioned(s, later.slice(i + 1)) : s)));
      if (planned.note) notes.push(planned.note);
      rewritten = true;
    } else {
      asWritten.push(stmt.sql.trim());
    }
    applyStatement(input.known, stmt.kind, stmt.node, { migration: input.migration, fresh: false });
  }
  flush();
  return { plan: { migration: input.migration, path: input.path, steps, rewritten, notes }, refusals };
}

/** Each statement as later SQL for the steps before it, scanned once, when a plan has a final rename or swap to place. */
function laterStatements(input: PlannerInput): LaterSql[] {
  return input.statements.map((s) => ({
    mentioned: mentionedNames(input.lib, s.sql),
    alters: (s.kind === 'AlterTableStmt' || s.kind === 'IndexStmt') && s.node['relation'] ? tableKey(s.node['relation']) : null,
  }));
}

function asWrittenStep(statements: string[]): OnlineStep {
  return {
    what: `run as written: ${statements.map(firstLine).join(' | ')}`, table: null, lock: 'ACCESS EXCLUSIVE',
    blocks: 'what the statements lock, briefly (nothing here scans or rewrites a table that existed before)',
    run: { kind: 'transaction', statements }, retry: true, scans: false, undo: [],
    irreversible: 'statements run as written stay when a later step fails (the down file reverts them)',
  };
}

function planStatement(input: PlannerInput, stmt: ParsedStatement, index: number): Planned {
  const node = stmt.node;
  const relation = (stmt.kind === 'IndexStmt' || stmt.kind === 'AlterTableStmt' || stmt.kind === 'UpdateStmt' || stmt.kind === 'DeleteStmt' || stmt.kind === 'RenameStmt')
    ? node['relation'] as Node | undefined : undefined;
  const special = offlineOnly(stmt);
  if (special) return { refuse: special };
  if (!relation) return null;
  const table = tableKey(relation);
  const facts = input.facts.get(table);
  if (!facts || !existedBefore(input.known, table, input.migration)) return null;
  const env: StatementEnv = {
    lib: input.lib, stmt, at: (l) => l - stmt.location, facts, table, known: input.known, options: input.options,
    get earlier() { return input.statements.slice(0, index); }, // sliced only by the one form that looks back
  };
  switch (stmt.kind) {
    case 'IndexStmt': return planIndex(env);
    case 'AlterTableStmt': return node['objtype'] === 'OBJECT_TABLE' ? planAlterTable(env) : null;
    case 'UpdateStmt': case 'DeleteStmt': return planWholeTable(env);
    case 'RenameStmt':
      if (node['renameType'] === 'OBJECT_TABLE' || node['renameType'] === 'OBJECT_COLUMN') {
        return { refuse: 'renaming a table or column that exists breaks the running application, which still uses the old name, and no online form can avoid that. Add a new one, move the application over, and drop the old one in a later migration' };
      }
      return null;
    default: return null;
  }
}

/** Statements that lock a table for as long as they work on it, whatever table it is. */
function offlineOnly(stmt: ParsedStatement): string | null {
  const n = stmt.node;
  if (stmt.kind === 'VacuumStmt' && hasOption(n['options'], 'full')) return 'VACUUM FULL rewrites the table under ACCESS EXCLUSIVE (no reads or writes until done); there is no online form (pg_repack does this without the lock)';
  if (stmt.kind === 'ClusterStmt') return 'CLUSTER rewrites the table under ACCESS EXCLUSIVE; there is no online form (pg_repack does this without the lock)';
  if (stmt.kind === 'ReindexStmt' && !hasOption(n['params'], 'concurrently')) return 'REINDEX without CONCURRENTLY blocks writes for the whole rebuild: write REINDEX (CONCURRENTLY) … (in a -- sqlmig:no-transaction file)';
  if (stmt.kind === 'LockStmt') return 'an explicit LOCK TABLE is kept for a whole transaction, which the online plan splits up; it has no online form';
  if (stmt.kind === 'RefreshMatViewStmt' && !n['concurrent']) return 'REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks reads of the view until done: write REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index)';
  return null;
}

function planIndex(env: StatementEnv): Planned {
  const n = env.stmt.node;
  if (n['concurrent']) return null;
  const schema = env.table.split('.')[0]!;
  if (n['idxname'] && env.known.indexes.has(`${schema}.${n['idxname']}`)) return null; // IF NOT EXISTS of an existing one, or an error either way
  const name = (n['idxname'] as string | undefined) ?? chooseIndexName(env.table, n, env.known);
  if (env.facts.partitioned) return partitionedIndex(env, name);
  // Built under a helper name and renamed at the end: a run killed in between leaves only sqlmig_tmp_….
  const helper = helperName('ix', name);
  const statement = concurrentIndexStatement(env.lib, env.stmt.sql.trim().replace(/;\s*$/, ''), helper);
  if (!statement) return null;
  return { steps: [...concurrentIndex(env.table, schema, helper, statement), renameIndex(env.table, helper, name, columnsNamed(n))] };
}

/**
 * CREATE INDEX on a partitioned table, which PostgreSQL cannot build CONCURRENTLY: the parent's index
 * made empty with ON ONLY (instant, INVALID), each partition's built concurrently and attached (the
 * parent's turns valid with the last one), all under helper names given their own at the end. The
 * partitions' names are those PostgreSQL would choose, as the plain statement gives them.
 */
function partitionedIndex(env: StatementEnv, name: string): Planned {
  const n = env.stmt.node;
  const partitions = env.facts.partitions ?? [];
  const nested = partitions.find((p) => p.partitioned);
  if (nested) return { refuse: `an index on a partitioned table whose partition ${nested.name} is partitioned in turn has no online form yet: create it on each leaf partition concurrently, then on the parents with ON ONLY and ALTER INDEX … ATTACH PARTITION` };
  const schema = env.table.split('.')[0]!;
  const sql = env.stmt.sql.trim().replace(/;\s*$/, '');
  const helper = helperName('ix', name);
  const parent = indexStatementOn(env.lib, sql, helper, qualified(env.table), 'only');
  if (!parent) return null;
  const columns = columnsNamed(n);
  const dropParent = `drop index if exists ${quoteIdent(schema)}.${quoteIdent(helper)}`;
  const steps: OnlineStep[] = [
    transactionStep(`create index ${helper} on only ${env.table} (the partitioned index, empty and INVALID until every partition's is attached)`, env.table, [parent], {
      lock: 'SHARE', blocks: 'writes of the parent table (it holds no rows), only for the instant it takes', undo: [dropParent],
    }),
  ];
  const renames: OnlineStep[] = [];
  for (const partition of partitions) {
    const childName = chooseIndexName(partition.name, n, env.known);
    const childHelper = helperName('ix', childName);
    const childSchema = partition.name.split('.')[0]!;
    const build = indexStatementOn(env.lib, sql, childHelper, qualified(partition.name), 'concurrently');
    if (!build) return null;
    steps.push(...concurrentIndex(partition.name, childSchema, childHelper, build));
    steps.push(transactionStep(`attach ${childHelper} to ${helper}`, partition.name, [`alter index ${quoteIdent(schema)}.${quoteIdent(helper)} attach partition ${quoteIdent(childSchema)}.${quoteIdent(childHelper)}`], {
      lock: 'SHARE UPDATE EXCLUSIVE', blocks: 'other DDL on the index, for an instant; not reads or writes', undo: [dropParent],
    }));
    renames.push(renameIndex(partition.name, childHelper, childName, columns));
  }
  return { steps: [...steps, renameIndex(env.table, helper, name, columns), ...renames] };
}

/** UPDATE or DELETE of every row: one transaction per batch of primary keys, so no writer waits for the whole table. */
function planWholeTable(env: StatementEnv): Planned {
  const n = env.stmt.node;
  if (n['whereClause'] || n['withClause'] || n['returningList'] || n['fromClause'] || n['usingClause']) return null;
  const verb = env.stmt.kind === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
  const key = env.facts.primaryKey;
  if (key.length !== 1) {
    return { refuse: `${verb === 'UPDATE' ? 'an' : 'a'} ${verb} of every row of a table ${key.length ? 'whose primary key has several columns' : 'without a primary key'} locks all its rows until it ends, and the batched form needs a one-column primary key` };
  }
  const k = key[0]!;
  const alias = as(n['relation'], 'alias') ?? (n['relation'] as Node)['alias'];
  const name = alias?.['aliasname'] ? quoteIdent(alias['aliasname']) : qualified(env.table);
  const inBatch = `${name}.${quoteIdent(k.column)} in (select ${quoteIdent(k.column)} from batch)`;
  let change: string;
  if (verb === 'UPDATE') {
    const targets = (n['targetList'] as Node[]).map((t) => as(t, 'ResTarget')!);
    if (targets.some((t) => t['name'] === k.column)) return { refuse: 'this UPDATE changes the primary key, which the batches walk by; run it offline or in steps of your own' };
    const set = textBetween(env.stmt.sql, env.at(targets[0]!['location'] as number));
    const target = textBetween(env.stmt.sql, 0, env.at(targets[0]!['location'] as number)).replace(/\bset$/i, '').trim();
    change = `${target} set ${set} where ${inBatch}`;
  } else {
    change = `${textBetween(env.stmt.sql, 0)} where ${inBatch}`;
  }
  return { steps: [batches(`${verb.toLowerCase()} every row in ${batchesText(env.options)} by ${k.column}`, env.table, k, change, 'ROW EXCLUSIVE', {
    resumable: true,
    irreversible: `the rows its committed batches ${verb === 'UPDATE' ? 'changed stay changed' : 'deleted stay deleted'}; the next \`up --online\` goes on after the last of them (a plain run is refused meanwhile)`,
  })] };
}

function firstLine(sql: string): string {
  const line = sql.trim().split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('--')) ?? sql.trim();
  return line.length > 100 ? `${line.slice(0, 97)}…` : line;
}
