/** The online forms of single changes to a table that existed before the migration, as steps. */
import type { OnlineStep } from './types.js';
import { helperName, qualified, quoteIdent } from './text.js';

const BRIEF = 'reads and writes of the table, only while it waits for the lock (lock_timeout) and for the instant it holds it';

export function transactionStep(what: string, table: string | null, statements: string[], extra: Partial<OnlineStep> = {}): OnlineStep {
  return { what, table, lock: 'ACCESS EXCLUSIVE', blocks: BRIEF, run: { kind: 'transaction', statements }, retry: true, scans: false, undo: [], ...extra };
}

/** CREATE [UNIQUE] INDEX CONCURRENTLY: a leftover INVALID index of the same name is dropped first. */
export function concurrentIndex(table: string, schema: string, name: string, statement: string): OnlineStep[] {
  const undo = [`drop index concurrently if exists ${quoteIdent(schema)}.${quoteIdent(name)}`];
  return [
    {
      what: `drop ${name} if a failed earlier build left it INVALID`, table, lock: 'SHARE UPDATE EXCLUSIVE', blocks: 'other DDL on the table; not reads or writes',
      run: { kind: 'drop-invalid-index', schema, name }, retry: false, scans: false, undo: [],
    },
    {
      what: `build index ${name} concurrently`, table, lock: 'SHARE UPDATE EXCLUSIVE', blocks: 'other DDL and VACUUM on the table while it builds; not reads or writes',
      run: { kind: 'alone', statement }, retry: false, scans: true, undo,
    },
  ];
}

/** ADD FOREIGN KEY / CHECK as NOT VALID (instant), then VALIDATE (a scan that lets writes through). */
export function notValidThenValidate(table: string, head: string, name: string, addNotValid: string, foreign: boolean): OnlineStep[] {
  const undo = [`alter table ${qualified(table)} drop constraint if exists ${quoteIdent(name)}`];
  return [
    transactionStep(`add constraint ${name} NOT VALID (checks new rows only)`, table, [`${head} ${addNotValid}`], {
      lock: foreign ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE',
      blocks: foreign ? 'writes of both tables, only while it waits for the lock and for the instant it holds it' : BRIEF, undo,
    }),
    transactionStep(`validate constraint ${name}`, table, [`alter table ${qualified(table)} validate constraint ${quoteIdent(name)}`], {
      lock: 'SHARE UPDATE EXCLUSIVE', blocks: 'other DDL on the table while it scans; not reads or writes', scans: true, undo,
    }),
  ];
}

/** SET NOT NULL without a scan under ACCESS EXCLUSIVE: CHECK (col IS NOT NULL) NOT VALID, VALIDATE, SET NOT NULL, drop the check. */
export function setNotNull(table: string, column: string): OnlineStep[] {
  const check = quoteIdent(helperName('nn', table.split('.').at(-1)!, column));
  const t = qualified(table);
  const col = quoteIdent(column);
  const dropCheck = `alter table ${t} drop constraint if exists ${check}`;
  return [
    transactionStep(`add CHECK (${column} IS NOT NULL) NOT VALID`, table, [`alter table ${t} add constraint ${check} check (${col} is not null) not valid`], { undo: [dropCheck] }),
    transactionStep(`validate that check (scans ${column} for NULLs)`, table, [`alter table ${t} validate constraint ${check}`], {
      lock: 'SHARE UPDATE EXCLUSIVE', blocks: 'other DDL on the table while it scans; not reads or writes', scans: true, undo: [dropCheck],
    }),
    transactionStep(`SET NOT NULL on ${column} (proved by the check: no scan), drop the check`, table, [`alter table ${t} alter column ${col} set not null`, dropCheck], {
      undo: [dropCheck, `alter table ${t} alter column ${col} drop not null`],
    }),
  ];
}

/** ADD UNIQUE / PRIMARY KEY: the unique index built concurrently, attached under its helper name, and given the final name at the end. */
export function constraintUsingIndex(table: string, name: string, kind: 'unique' | 'primary key', indexBody: string, suffix: string, columns: readonly string[]): OnlineStep[] {
  const schema = table.split('.')[0]!;
  const helper = helperName('uq', name);
  const t = qualified(table);
  const build = concurrentIndex(table, schema, helper, `create unique index concurrently ${quoteIdent(helper)} on ${t} ${indexBody}`);
  return [
    ...build,
    transactionStep(`add ${kind} ${helper} using that index`, table, [`alter table ${t} add constraint ${quoteIdent(helper)} ${kind} using index ${quoteIdent(helper)}${suffix}`], {
      undo: [`alter table ${t} drop constraint if exists ${quoteIdent(helper)}`, ...build[1]!.undo],
    }),
    renameConstraint(table, helper, name, columns),
  ];
}

/**
 * Give what the plan built under a helper name its final name, at the end with the history row
 * (catalog only). `names`: what a later statement of the migration would mention if it needs the name now.
 */
export function atEnd(what: string, table: string, statements: string[], names: string[], lock: OnlineStep['lock'] = 'ACCESS EXCLUSIVE'): OnlineStep {
  return {
    what, table, lock, blocks: BRIEF, run: { kind: 'at-end', statements, names },
    retry: true, scans: false, undo: [],
  };
}

export const relationName = (table: string) => table.split('.').slice(1).join('.');

/** `columns`: what the constraint or index uses (a later statement that drops or changes one needs the final name given first). */
export function renameConstraint(table: string, helper: string, name: string, columns: readonly string[]): OnlineStep {
  return atEnd(`rename constraint ${helper} to ${name} (at the end, with the history row)`, table,
    [`alter table ${qualified(table)} rename constraint ${quoteIdent(helper)} to ${quoteIdent(name)}`], [name, ...columns]);
}

export function renameIndex(table: string, helper: string, name: string, columns: readonly string[]): OnlineStep {
  const schema = quoteIdent(table.split('.')[0]!);
  return atEnd(`rename index ${helper} to ${name} (at the end, with the history row)`, table,
    [`alter index ${schema}.${quoteIdent(helper)} rename to ${quoteIdent(name)}`], [name, ...columns], 'SHARE UPDATE EXCLUSIVE');
}

export function renameColumn(table: string, helper: string, name: string): OnlineStep {
  return atEnd(`rename column ${helper} to ${name} (at the end, with the history row)`, table,
    [`alter table ${qualified(table)} rename column ${quoteIdent(helper)} to ${quoteIdent(name)}`], [name]);
}

/**
 * A batched pass by primary key, one transaction per batch: `change` is an UPDATE or DELETE of the rows
 * whose key is in `batch` (a CTE). Returns the last key of the batch and how many rows it held. The
 * pass stops at the largest key when it starts: a row inserted later is already converted or filled
 * (by the trigger or the default set before the pass), and chasing a busy writer's inserts would
 * never end.
 */
export function batches(what: string, table: string, key: { column: string; type: string }, change: string, lock: OnlineStep['lock'], extra: Partial<OnlineStep> = {}): OnlineStep {
  const t = qualified(table);
  const k = quoteIdent(key.column);
  const sql = `with batch as (select ${k} from ${t} where ($1::text is null or ${k} > $1::text::${key.type}) and ${k} <= $3::text::${key.type} order by ${k} limit $2::int),
    changed as (${change}) select (select b.${k}::text from batch b order by b.${k} desc limit 1) as last, (select count(*) from batch)::int as n`;
  // The last key by ORDER BY … LIMIT 1, not max(): uuid (and other btree-ordered types) has no max aggregate.
  // Qualified (b., r.): an unqualified key in ORDER BY would name the ::text output column and sort as text.
  // reltuples: the table's size as last analyzed (-1: never), for the progress line only.
  const bound = `select (select r.${k}::text from ${t} r order by r.${k} desc limit 1) as last, (select reltuples::bigint::text from pg_class where oid = '${t.replace(/'/g, "''")}'::regclass) as estimate`;
  return {
    what, table, lock, blocks: 'writes of the rows of one batch, for that batch\'s transaction only', run: { kind: 'batches', sql, bound, table },
    retry: true, scans: true, undo: [], ...extra,
  };
}

/**
 * SQL that runs after a step in the same migration: a statement (with the table an ALTER TABLE or
 * CREATE INDEX changes), or a later subcommand; `mentioned` is its mentionedNames, read once.
 */
export interface LaterSql { mentioned: ReadonlySet<string>; alters?: string | null }

/**
 * A final rename or swap waits for the end (with the history row) unless SQL that runs after it in the
 * migration needs it done: SQL that mentions a name it gives or a column it uses, or a statement other
 * than ALTER TABLE / CREATE INDEX that mentions its table (DROP TABLE, INSERT, a view…). Then it runs
 * in place, as a transaction of its own.
 */
export function inPlaceIfMentioned(step: OnlineStep, later: readonly LaterSql[]): OnlineStep {
  if (step.run.kind !== 'at-end') return step;
  const names = step.run.names;
  const relation = step.table ? relationName(step.table) : null;
  const needs = (l: LaterSql) => names.some((n) => l.mentioned.has(n))
    || (l.alters !== undefined && l.alters !== step.table && relation !== null && l.mentioned.has(relation));
  if (!later.some(needs)) return step;
  const what = step.what.replace(' (at the end, with the history row)', '').replace('; at the end, with the history row)', ')');
  return { ...step, what, run: { kind: 'transaction', statements: step.run.statements }, inPlace: true };
}
