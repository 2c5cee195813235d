/** The history table: one row per applied migration (SPEC §3). */
import type { Db, ParameterizedQuery } from '../db/index.js';
import { sqlLiteral } from './literal.js';

export interface HistoryTable { schema: string; table: string }

/** A migration as the database remembers it. Texts are fetched separately, only when needed. */
export interface AppliedMigration {
  version: bigint;
  name: string;
  checksum: string;
  appliedAt: Date;
  appliedBy: string;
  durationMs: number;
  transactional: boolean;
  stamped: boolean;
}

export interface NewHistoryRow {
  version: bigint;
  name: string;
  checksum: string;
  upSql: string;
  downSql: string | null;
  /** Measured by the client; ignored when the server measures it (see historyInsert). */
  durationMs: number;
  transactional: boolean;
  stamped?: boolean;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualifiedName(t: HistoryTable): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
}

export async function historyExists(db: Db, t: HistoryTable): Promise<boolean> {
  const [row] = await db.query<{ found: boolean }>('select to_regclass($1) is not null as found', [qualifiedName(t)]);
  return Boolean(row?.found);
}

/** Create the table on first use. Called under the runner's lock, so concurrent first runs cannot race. */
export async function ensureHistory(db: Db, t: HistoryTable): Promise<void> {
  if (await historyExists(db, t)) return;
  const [schema] = await db.query<{ found: boolean }>('select to_regnamespace($1) is not null as found', [quoteIdent(t.schema)]);
  if (!schema?.found) await db.exec(`create schema ${quoteIdent(t.schema)}`);
  await db.exec(`create table ${qualifiedName(t)} (
    version bigint primary key,
    name text not null,
    checksum text not null,
    up_sql text not null,
    down_sql text,
    applied_at timestamptz not null default now(),
    applied_by text not null default current_user,
    duration_ms integer not null default 0,
    transactional boolean not null default true,
    stamped boolean not null default false
  )`);
}

/** Applied migrations in version order; empty when the table does not exist yet (nothing is created). */
export async function readHistory(db: Db, t: HistoryTable): Promise<AppliedMigration[]> {
  if (!(await historyExists(db, t))) return [];
  const rows = await db.query<{
    version: string; name: string; checksum: string; applied_at: Date; applied_by: string;
    duration_ms: number; transactional: boolean; stamped: boolean;
  }>(`select h.version::text as version, name, checksum, applied_at, applied_by, duration_ms, transactional, stamped
      from ${qualifiedName(t)} h order by h.version`); // h.version: the bigint; "version" alone is the text alias (1, 10, 2, …)
  return rows.map((r) => ({
    version: BigInt(r.version),
    name: r.name,
    checksum: r.checksum,
    appliedAt: new Date(r.applied_at),
    appliedBy: r.applied_by,
    durationMs: Number(r.duration_ms),
    transactional: r.transactional,
    stamped: r.stamped,
  }));
}

/** The SQL stored for every applied migration, in one query (a replay of a long history would otherwise ask once per row). */
export async function readAllAppliedText(db: Db, t: HistoryTable): Promise<Map<bigint, { upSql: string; downSql: string | null }>> {
  const rows = await db.query<{ version: string; up_sql: string; down_sql: string | null }>(
    `select h.version::text as version, up_sql, down_sql from ${qualifiedName(t)} h`);
  return new Map(rows.map((r) => [BigInt(r.version), { upSql: r.up_sql, downSql: r.down_sql }]));
}

export async function readAppliedText(db: Db, t: HistoryTable, version: bigint): Promise<{ upSql: string; downSql: string | null }> {
  const [row] = await db.query<{ up_sql: string; down_sql: string | null }>(
    `select up_sql, down_sql from ${qualifiedName(t)} where version = $1::bigint`, [version.toString()]);
  return { upSql: row?.up_sql ?? '', downSql: row?.down_sql ?? null };
}

/** md5 of the down SQL stored for each applied migration that has one (to spot an edited .down.sql cheaply). */
export async function readStoredDownDigests(db: Db, t: HistoryTable): Promise<Map<bigint, string>> {
  if (!(await historyExists(db, t))) return new Map();
  const rows = await db.query<{ version: string; digest: string }>(
    `select version::text as version, pg_catalog.md5(down_sql) as digest from ${qualifiedName(t)} where down_sql is not null`);
  return new Map(rows.map((r) => [BigInt(r.version), r.digest]));
}

/**
 * The history setting a migration's transaction carries just before its row is written. A row is
 * written only where it holds: if a file ended sqlmig's transaction itself (its own COMMIT), the write
 * runs outside it, the setting is gone, and nothing is recorded for work that did not commit with it.
 */
export const GUARD_SETTING = 'sqlmig.migration';

export function setGuardSql(guard: string): string {
  return `select pg_catalog.set_config('${GUARD_SETTING}', '${guard.replace(/'/g, "''")}', true)`;
}

/**
 * The insert for one applied migration; it returns the version when a row was written. Without
 * `durationMs` the server measures the time since the transaction began, so the row can travel in
 * the same pipeline as the migration itself. With `guard`, it writes only inside that migration's transaction.
 * With `inline`, the values are written into the SQL (no parameters: see literal.ts).
 */
export function historyInsert(t: HistoryTable, row: NewHistoryRow, options: { durationMs?: number; guard?: string; inline?: boolean } = {}): ParameterizedQuery {
  const duration = options.durationMs === undefined
    ? `(extract(epoch from pg_catalog.clock_timestamp() - pg_catalog.now()) * 1000)::int`
    : `${Math.round(options.durationMs)}`;
  const params: unknown[] = [];
  const v = binder(params, options.inline);
  return {
    sql: `insert into ${qualifiedName(t)} (version, name, checksum, up_sql, down_sql, duration_ms, transactional, stamped)
          select ${v(row.version)}::bigint, ${v(row.name)}::text, ${v(row.checksum)}::text, ${v(row.upSql)}::text, ${v(row.downSql)}::text, ${duration}, ${v(row.transactional)}::boolean, ${v(row.stamped ?? false)}::boolean${guardClause(options.guard, v)}
          returning version`,
    params,
  };
}

export function historyDelete(t: HistoryTable, version: bigint, guard?: string, options: { inline?: boolean } = {}): ParameterizedQuery {
  const params: unknown[] = [];
  const v = binder(params, options.inline);
  return { sql: `delete from ${qualifiedName(t)} where version = ${v(version)}::bigint${guardClause(guard, v).replace(' where', ' and')} returning version`, params };
}

/**
 * A precondition for a migration sent while `previous` still runs on the same session: it raises (by
 * reading a setting nobody sets, at run time) unless `previous` committed, i.e. its row is there after
 * an up, gone after a down. A failed, rolled-back or unrecorded previous migration stops this one before its first statement.
 */
export function previousCommittedSql(t: HistoryTable, previous: { direction: 'up' | 'down'; version: bigint }): string {
  const test = previous.direction === 'up' ? 'exists' : 'not exists';
  return `select case when ${test} (select from ${qualifiedName(t)} where version = ${previous.version}::bigint) then '' ` +
    `else pg_catalog.current_setting('sqlmig.previous_migration_not_committed') end`;
}

/** A placeholder for each value ($1, $2, … collected in `params`), or the value itself written as SQL. */
function binder(params: unknown[], inline = false): (value: unknown) => string {
  if (inline) return sqlLiteral;
  return (value) => {
    params.push(typeof value === 'bigint' ? value.toString() : value);
    return `$${params.length}`;
  };
}

function guardClause(guard: string | undefined, v: (value: unknown) => string): string {
  if (guard === undefined) return '';
  return ` where pg_catalog.current_setting('${GUARD_SETTING}', true) = ${v(guard)}`;
}

export async function insertHistory(db: Db, t: HistoryTable, row: NewHistoryRow): Promise<void> {
  const { sql, params } = historyInsert(t, row, { durationMs: row.durationMs });
  await db.query(sql, params);
}

export async function deleteHistory(db: Db, t: HistoryTable, version: bigint): Promise<void> {
  const { sql, params } = historyDelete(t, version);
  await db.query(sql, params);
}

export async function updateHistoryText(
  db: Db, t: HistoryTable, version: bigint, text: { checksum: string; upSql: string; downSql: string | null },
): Promise<void> {
  await db.query(
    `update ${qualifiedName(t)} set checksum = $2, up_sql = $3, down_sql = $4 where version = $1::bigint`,
    [version.toString(), text.checksum, text.upSql, text.downSql],
  );
}
