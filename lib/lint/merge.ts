/** `lint --trace`: the static findings and what the trace saw, as one list. */
import type { Finding } from './types.js';

/** The static rules about a lock an earlier statement of the transaction still holds. */
const HELD_RULES = new Set(['validate-in-transaction', 'backfill-under-lock']);

/**
 * Static and trace findings together, file by file in lint order, then by position. A trace lock or
 * rewrite at the statement of a static finding about the same table is said once: in the static one;
 * so is a held lock the trace saw at a statement that a static rule already flags for running under one.
 */
export function mergeFindings(files: string[], a: Finding[], b: Finding[]): Finding[] {
  const rank = new Map(files.map((f, i) => [f, i]));
  const statics = a.map((f) => ({ ...f }));
  const traced = b.filter((t) => {
    const same = t.rule === 'trace-lock-held'
      ? statics.find((f) => f.file === t.file && f.line === t.line && HELD_RULES.has(f.rule))
      : t.rule === 'trace-lock' || t.rule === 'trace-rewrite' ? statics.find((f) => f.file === t.file && f.table === t.table && f.line === t.line) : undefined;
    if (!same) return true;
    same.message += ` (--trace confirms: ${t.message.replace(/^(takes|rewrites) /, (w) => w.trim() === 'takes' ? 'took ' : 'rewrote ')})`;
    return false;
  });
  return [...statics, ...traced].sort((x, y) => (rank.get(x.file) ?? 0) - (rank.get(y.file) ?? 0) || x.line - y.line || x.col - y.col);
}
