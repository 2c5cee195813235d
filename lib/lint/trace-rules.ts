/** What `lint --trace` reports: locks and rewrites seen on a scratch database, as findings. */
import type { RuleInfo } from './types.js';

const traceRule = (info: Omit<RuleInfo, 'source'>): RuleInfo => ({ ...info, source: 'trace' });

export const TRACE_LOCK = traceRule({
  id: 'trace-lock', level: 'warning',
  why: 'The statement really took this lock on a table that existed before the migration; the lock is held until the migration\'s transaction ends, and queries that conflict with it wait (and every query behind them).',
  recipe: 'Keep the statement short and alone in its migration, set a lock timeout (`--ddl-lock-timeout`), or use the non-blocking form (CONCURRENTLY, NOT VALID + VALIDATE).',
});

export const TRACE_REWRITE = traceRule({
  id: 'trace-rewrite', level: 'warning',
  why: 'The table\'s storage file changed: PostgreSQL copied every row into a new file (and rebuilt the indexes) while holding the lock.',
  recipe: 'Avoid the rewrite: add a new column and backfill it in batches instead of changing a type, use constant defaults, or do it in a maintenance window.',
});

export const TRACE_LOCK_HELD = traceRule({
  id: 'trace-lock-held', level: 'warning',
  why: 'An earlier statement of this migration holds a lock that blocks traffic (SHARE or stronger) until the migration commits: while this statement scans or rewrites, the queries that lock blocks wait.',
  recipe: 'Put the statement that takes the lock last, or in a migration of its own, so the lock is held as briefly as possible.',
});

export const TRACE_FAILED = traceRule({
  id: 'trace-failed', level: 'error',
  why: 'The migration failed on a scratch database built from the migrations before it: it would fail when applied.',
  recipe: 'Fix the statement; `sqlmig verify` runs the same scratch database with more detail.',
});

export const TRACE_RULES = [TRACE_LOCK, TRACE_REWRITE, TRACE_LOCK_HELD, TRACE_FAILED];
