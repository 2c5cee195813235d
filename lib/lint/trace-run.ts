/** Where `lint --trace` runs: the scratch database verify uses (embedded PGlite when no server is given). */
import type { Context } from '../runner/context.js';
import { Interrupted } from '../errors.js';
import { scratchFate, signalName } from '../schema/interrupted.js';
import { withScratch, type ScratchInfo } from '../schema/scratch.js';
import { loadParser } from '../migrations/sql.js';
import { parseText } from './parse.js';
import type { LintedFile, Planned } from './runner.js';
import { traceMigrations, type TraceStep } from './trace.js';
import type { Finding, TableSize } from './types.js';

export async function traceScope(ctx: Context, order: Planned[], linted: LintedFile[], sizes: Map<string, TableSize>, scratchUrl?: string): Promise<{ findings: Finding[]; scratch: ScratchInfo }> {
  const byPath = new Map(linted.map((f) => [f.source.path, f]));
  const last = order.map((p) => p.lint).lastIndexOf(true);
  const steps: TraceStep[] = order.slice(0, last + 1).map((p) => (p.lint
    ? { mode: 'trace', linted: byPath.get(p.source.path)! }
    : { mode: 'apply', path: p.source.path, text: p.source.text, transactional: p.source.transactional }));
  const lib = await loadParser();
  const extensions = [...new Set(order.flatMap((p) => (parseText(lib, p.source.text).statements ?? [])
    .flatMap((s) => (s.kind === 'CreateExtensionStmt' ? [String(s.node['extname'])] : []))))];
  // With no database given, the scratch database is an embedded one, as for a pglite: target.
  const scratchCtx: Context = ctx.target ? ctx : { ...ctx, target: { kind: 'pglite', path: null, url: 'pglite:memory' } };
  const texts = order.map((p) => p.source.text);
  stopIfInterrupted(ctx.options.signal, null);
  return withScratch(scratchCtx, { scratchUrl: scratchUrl ?? ctx.options.scratchUrl, extensions, texts }, async (scratch) => {
    const stop = () => stopIfInterrupted(ctx.options.signal, scratch.info);
    try {
      const findings = await traceMigrations(scratch.db, steps, sizes, stop);
      stop();
      return { findings, scratch: scratch.info };
    } catch (error) {
      stop(); // what a signal cancelled is no finding and no failure of the migration
      throw error;
    }
  });
}

/**
 * A trace stopped by a signal reports nothing (its findings would describe a run that did not finish);
 * withScratch removes the scratch database on the way out.
 */
function stopIfInterrupted(signal: AbortSignal | undefined, scratch: ScratchInfo | null): void {
  if (!signal?.aborted) return;
  const name = signalName(signal);
  const removed = scratch ? `; its scratch database ${scratch.display} ${scratchFate(scratch)}` : '';
  throw new Interrupted(name, `interrupted by ${name}: lint --trace did not finish, so nothing is reported${removed}.`);
}
