/**
 * `lint --trace`: run each linted migration on a scratch database after the ones before it, statement
 * by statement inside its transaction, and after each statement read the locks this session holds
 * (pg_locks), each table's storage file (pg_class.relfilenode) and the scans it made (its own
 * statistics). Only tables that existed when the migration began are watched: tables it creates are
 * new and empty. A lock is reported only at a statement that scanned or rewrote: one that did neither
 * held it for an instant.
 */
import type { Db } from '../db/index.js';
import { loadParser } from '../migrations/sql.js';
import type { ParsedStatement } from './parse.js';
import { parseText } from './parse.js';
import { finding, tableLabel, type LintedFile } from './runner.js';
import { TRACE_FAILED, TRACE_LOCK, TRACE_LOCK_HELD, TRACE_REWRITE } from './trace-rules.js';
import { needsNoTransaction } from './transactions.js';
import type { Finding, Hit, RuleInfo, TableSize } from './types.js';

/** An earlier migration to apply as it is, or a linted one to trace. */
export type TraceStep =
  | { mode: 'apply'; path: string; text: string; transactional: boolean }
  | { mode: 'trace'; linted: LintedFile };

const MODES = ['AccessShareLock', 'RowShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'];
const rank = (mode: string | undefined) => (mode ? MODES.indexOf(mode) : -1);
const SHARE = rank('ShareLock');
const BLOCKS: Record<string, string> = {
  ShareLock: 'writes wait', ShareRowExclusiveLock: 'writes wait', ExclusiveLock: 'writes and SELECT … FOR UPDATE wait', AccessExclusiveLock: 'reads and writes wait',
};
const modeName = (mode: string) => mode.replace(/Lock$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();

const TABLES_SQL = `select c.oid::int8 as oid, n.nspname || '.' || c.relname as key, c.relfilenode::int8 as file, c.relkind = 'm' as view
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'`;
// The scans (sequential and index) of each table this session counted and has not yet sent to the
// statistics: they go up by the statement's own scans, so each reading is compared with the one before it.
const SCANS_SQL = 'select relid::int8 as oid, seq_scan + coalesce(idx_scan, 0) as scans from pg_stat_xact_user_tables';
const OBSERVE_SQL = `select relation::int8 as oid, mode, null::int8 as file, null::int8 as scans from pg_locks
    where pid = pg_backend_pid() and locktype = 'relation' and granted and relation = any($1::text::oid[])
  union all select oid::int8, null, relfilenode::int8, null from pg_class where oid = any($1::text::oid[])
  union all select oid, null, null, scans from (${SCANS_SQL}) s`;

class Stop extends Error {}

/**
 * Throws when the run was interrupted: a statement cancelled by a signal is not a finding, and a trace
 * that stopped half-way has nothing true to report.
 */
export type StopIfInterrupted = () => void;

export async function traceMigrations(db: Db, steps: TraceStep[], sizes: Map<string, TableSize>, stopIfInterrupted: StopIfInterrupted = () => {}): Promise<Finding[]> {
  const lib = await loadParser();
  const findings: Finding[] = [];
  try {
    for (const step of steps) {
      stopIfInterrupted();
      if (step.mode === 'apply') await apply(db, step, parseText(lib, step.text).statements, findings, stopIfInterrupted);
      else if (step.linted.statements) await trace(db, step.linted, step.linted.statements, sizes, findings, stopIfInterrupted);
    }
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
  }
  return findings;
}

async function apply(db: Db, step: Extract<TraceStep, { mode: 'apply' }>, statements: ParsedStatement[] | null, findings: Finding[], stopIfInterrupted: StopIfInterrupted): Promise<void> {
  try {
    if (step.transactional || !statements) await db.exec(step.text);
    else for (const s of statements) { stopIfInterrupted(); await db.exec(s.sql); }
  } catch (error) {
    stopIfInterrupted();
    findings.push(finding(TRACE_FAILED, { message: `an earlier migration failed on the scratch database, so nothing after it was traced: ${(error as Error).message}` }, step.path, 1, 1));
    throw new Stop();
  }
}

async function trace(db: Db, linted: LintedFile, statements: ParsedStatement[], sizes: Map<string, TableSize>, findings: Finding[], stopIfInterrupted: StopIfInterrupted): Promise<void> {
  const tables = new Map((await db.query<{ oid: string; key: string; file: string; view: boolean }>(TABLES_SQL)).map((r) => [String(r.oid), { key: r.key, file: String(r.file), view: r.view }]));
  // Only REFRESH writes a materialized view, so of its locks only ACCESS EXCLUSIVE keeps anyone (its readers) waiting.
  const blocking = (oid: string, mode: string) => rank(mode) >= (tables.get(oid)?.view ? rank('AccessExclusiveLock') : SHARE);
  const oids = `{${[...tables.keys()].join(',')}}`;
  const silenced = new Set(linted.ignores.map((i) => `${i.statement}:${i.rule}`));
  const add = (info: RuleInfo, index: number, hit: Hit) => {
    if (silenced.has(`${index}:${info.id}`)) return;
    const s = statements[index]!;
    findings.push(finding(info, hit, linted.source.path, s.line, s.col, sizes.get(hit.table ?? '')));
  };
  const label = (oid: string) => tableLabel(tables.get(oid)!.key, sizes.get(tables.get(oid)!.key));
  let held = new Map<string, { line: number; mode: string }>(); // blocking locks taken by earlier statements
  const told = new Set<string>();
  let before = new Map<string, string>();
  let scansBefore = new Map<string, number>();

  const readScans = async (q: Db) => { scansBefore = new Map((await q.query<{ oid: string; scans: string }>(SCANS_SQL)).map((r) => [String(r.oid), Number(r.scans)])); };
  const run = async (q: Db, index: number, inTransaction: boolean) => {
    const stmt = statements[index]!;
    stopIfInterrupted();
    if (!inTransaction || index === 0) await readScans(q);
    try {
      await q.exec(stmt.sql);
    } catch (error) {
      stopIfInterrupted();
      add(TRACE_FAILED, index, { message: `failed on the scratch database: ${(error as Error).message}` });
      throw new Stop();
    }
    const rows = await q.query<{ oid: string; mode: string | null; file: string | null; scans: string | null }>(OBSERVE_SQL, [oids]);
    const locks = new Map<string, string>();
    const rewritten = new Set<string>();
    const scans = new Map<string, number>();
    for (const r of rows) {
      const oid = String(r.oid);
      if (r.mode && rank(r.mode) > rank(locks.get(oid))) locks.set(oid, r.mode);
      if (r.scans !== null) scans.set(oid, Number(r.scans));
    }
    // A statement that neither scanned nor rewrote a table was over in an instant: the locks it took (or
    // ran under) kept nobody waiting for longer than that. Waiting for the lock is what lock-timeout is about.
    const worked = [...scans].some(([oid, n]) => n > (scansBefore.get(oid) ?? 0));
    scansBefore = scans;
    for (const r of rows) {
      const oid = String(r.oid);
      if (r.file === null || !tables.has(oid) || String(r.file) === tables.get(oid)!.file) continue;
      tables.get(oid)!.file = String(r.file);
      if (stmt.kind === 'TruncateStmt') continue; // new storage, but emptied rather than copied: the truncate rule says it
      rewritten.add(oid);
      const mode = locks.get(oid) ?? 'AccessExclusiveLock';
      add(TRACE_REWRITE, index, { message: `rewrites ${label(oid)} under ${modeName(mode)}: ${BLOCKS[mode] ?? 'traffic waits'} until it is done`, table: tables.get(oid)!.key });
    }
    const busy = worked || rewritten.size > 0;
    const waiting = (busy ? [...held].filter(([oid]) => locks.has(oid) && !told.has(oid)) : []) // once per lock: the first statement that works under it
      .sort(([x], [y]) => tables.get(x)!.key.localeCompare(tables.get(y)!.key));
    for (const [oid] of waiting) told.add(oid);
    if (waiting.length) {
      const strongest = waiting.reduce((a, b) => (rank(b[1].mode) > rank(a[1].mode) ? b : a))[1].mode;
      const what = waiting.map(([oid, h]) => `${label(oid)} (since line ${h.line}) is locked ${modeName(h.mode)}`).join(', ');
      add(TRACE_LOCK_HELD, index, { message: `runs while ${what}: ${BLOCKS[strongest]} for this statement too`, table: tables.get(waiting[0]![0])!.key });
    }
    for (const [oid, mode] of locks) {
      if (busy && !rewritten.has(oid) && blocking(oid, mode) && rank(mode) > rank(before.get(oid))) {
        // REINDEX also takes ACCESS EXCLUSIVE on the index itself, which pg_locks shows on the index, not the table.
        const onIndex = stmt.kind === 'ReindexStmt' ? ', and reads that use the index wait too (ACCESS EXCLUSIVE on the index)' : '';
        add(TRACE_LOCK, index, { message: `takes ${modeName(mode)} on ${label(oid)}: ${BLOCKS[mode]}${onIndex} until the ${inTransaction ? 'migration' : 'statement'} ends`, table: tables.get(oid)!.key });
      }
      if (blocking(oid, mode) && rank(mode) > rank(held.get(oid)?.mode)) {
        held.set(oid, { line: stmt.line, mode });
        told.delete(oid); // a stronger lock than the one already said
      }
    }
    before = inTransaction ? locks : new Map();
    if (!inTransaction) { held = new Map(); told.clear(); }
  };

  if (linted.source.transactional) {
    await db.transaction(async (tx) => { for (let i = 0; i < statements.length; i++) await run(tx, i, true); });
    return;
  }
  for (let i = 0; i < statements.length; i++) {
    if (needsNoTransaction(statements[i]!)) await run(db, i, false);
    else await db.transaction((tx) => run(tx, i, false));
  }
}
