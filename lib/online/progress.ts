/**
 * Where a batched UPDATE or DELETE of every row stood when its run stopped. The batches that
 * committed cannot be undone (the old values are gone), and running the statement again from the
 * start would change those rows twice (`set n = n + 1`). So each batch records, in its own
 * transaction, the last key it reached, in `<history table>_online` next to the history table; the
 * next `up --online` goes on from there, a plain run of that migration is refused, and `status` names
 * it. The record is deleted in the transaction that writes the history row, and the table is dropped
 * once it is empty: it exists only while a pass is unfinished.
 */
import type { Db } from '../db/index.js';
import { Refused } from '../errors.js';
import { qualifiedName, type HistoryTable } from '../runner/history.js';
import { sqlLiteral } from '../runner/literal.js';

export interface Progress {
  /** pass: a batched UPDATE/DELETE of every row; statements: statements run as written, committed. */
  kind: 'pass' | 'statements';
  version: bigint;
  direction: 'up' | 'down';
  /** The step's index in the migration's online plan. */
  step: number;
  /** The step's batch statement, or its statements, to know that the plan is still the same. */
  statement: string;
  /** The last key a committed batch reached (null: none yet). */
  lastKey: string | null;
  /** The largest key when the pass first started: rows inserted later are not the statement's. */
  bound: string;
  rows: number;
  done: boolean;
}

export function progressTable(t: HistoryTable): HistoryTable {
  return { schema: t.schema, table: `${t.table}_online` };
}

/** Unfinished passes (of one migration, or of all), or none when the table does not exist. */
export async function readProgress(db: Db, history: HistoryTable, version?: bigint): Promise<Progress[]> {
  const t = qualifiedName(progressTable(history));
  const [found] = await db.query<{ found: boolean }>(`select to_regclass(${sqlLiteral(t)}) is not null as found`);
  if (!found?.found) return [];
  const rows = await db.query<{ kind: 'pass' | 'statements'; version: string; direction: 'up' | 'down'; step: number; statement: string; last_key: string | null; bound: string; rows: string; done: boolean }>(
    `select kind, p.version::text as version, direction, step, statement, last_key, bound, rows::text as rows, done from ${t} p
      ${version === undefined ? '' : `where p.version = ${version}`} order by p.version, step`); // p.version: the bigint, not the text alias
  return rows.map((r) => ({
    kind: r.kind, version: BigInt(r.version), direction: r.direction, step: Number(r.step), statement: r.statement,
    lastKey: r.last_key, bound: r.bound, rows: Number(r.rows), done: r.done,
  }));
}

export function createProgressTableSql(history: HistoryTable): string {
  return `create table if not exists ${qualifiedName(progressTable(history))} (
    version bigint not null,
    direction text not null,
    kind text not null,
    step integer not null,
    statement text not null,
    last_key text,
    bound text not null,
    rows bigint not null default 0,
    done boolean not null default false,
    updated_at timestamptz not null default now(),
    primary key (version, direction, step)
  )`;
}

/** Run inside a batch's (or the statements') transaction: the pass reached `p.lastKey`, or the statements ran. */
export function saveProgressSql(history: HistoryTable, p: Progress): string {
  const v = sqlLiteral;
  return `insert into ${qualifiedName(progressTable(history))} (version, direction, kind, step, statement, last_key, bound, rows, done)
    values (${p.version}, ${v(p.direction)}, ${v(p.kind)}, ${p.step}, ${v(p.statement)}, ${v(p.lastKey)}, ${v(p.bound)}, ${p.rows}, ${v(p.done)})
    on conflict (version, direction, step) do update set last_key = excluded.last_key, rows = excluded.rows, done = excluded.done, updated_at = now()`;
}

/** Run in the transaction that writes (or deletes) the history row: the migration's passes are over. */
export function forgetProgressSql(history: HistoryTable, version: bigint, direction: 'up' | 'down'): string {
  const t = qualifiedName(progressTable(history));
  // The table may not exist (a pass with no rows records nothing). The body's tag differs from sqlLiteral's ($sqlmig$).
  return `do $sqlmig_progress$ begin if to_regclass(${sqlLiteral(t)}) is not null then
    delete from ${t} where version = ${version} and direction = ${sqlLiteral(direction)}; end if; end $sqlmig_progress$`;
}

/** After the run: the table goes once no pass is left in it. */
export async function dropProgressTableIfEmpty(db: Db, history: HistoryTable): Promise<void> {
  if ((await readProgress(db, history)).length) return;
  await db.exec(`drop table if exists ${qualifiedName(progressTable(history))}`);
}

/** How a stopped run reads in messages and in status: what of it stays. */
export function describeProgress(p: Progress, name: string): string {
  const who = `${p.direction === 'up' ? '' : 'down of '}${name}`;
  if (p.kind === 'statements') return `${who}: an online run stopped after statements it runs as written (step ${p.step + 1}) had committed`;
  return `${who}: a batched pass over every row was stopped after ${p.rows.toLocaleString('en-US')} row(s)` +
    `${p.lastKey === null ? '' : ` (keys up to ${p.lastKey})`}`;
}

/**
 * A migration with an unfinished pass must not run any other way than online: from the start, the
 * statement would change the rows its committed batches changed a second time.
 */
export function refuseUnfinished(unfinished: readonly Progress[], steps: readonly { direction: 'up' | 'down'; version: bigint; versionText: string; name: string }[],
  runsOnline: (index: number) => boolean, history: HistoryTable): void {
  for (const [i, step] of steps.entries()) {
    const found = unfinished.find((p) => p.version === step.version && p.direction === step.direction);
    if (!found || runsOnline(i)) continue;
    throw new Refused(`${describeProgress(found, `${step.versionText}_${step.name}`)} by an earlier \`${step.direction} --online\`, ` +
      `and what it did stays. Running it now without --online would run that again; nothing was run. ` +
      `Run \`sqlmig ${step.direction} --online\` to go on from where it stopped (a file that says \`-- sqlmig:offline\` cannot). ` +
      `If you have undone it yourself, delete its record: \`delete from ${qualifiedName(progressTable(history))} where version = ${step.version}\`.`);
  }
}
