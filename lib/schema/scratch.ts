/**
 * A database that verify may fill and throw away, never the target: the one given with --scratch-url
 * (it must be empty, and is emptied again afterwards); else a temporary database created on the
 * target's server and dropped afterwards, whatever happens; else an embedded PGlite in memory.
 * Roles and tablespaces the migrations created on a server are dropped afterwards too (cluster.ts).
 */
import type { Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import type { Target } from '../db/url.js';
import { UsageError } from '../errors.js';
import { embeddedScratch, givenScratch, temporaryScratch, type OpenScratch, type Scratch, type ScratchRequest } from './scratch-databases.js';

export type { OpenScratch, Scratch, ScratchInfo, ScratchRequest } from './scratch-databases.js';





/** Run fn on a scratch database and always dispose of it, also when fn throws or the run is interrupted. */
export async function withScratch<T>(ctx: Context, request: ScratchRequest, fn: (scratch: Scratch) => Promise<T>): Promise<T> {
  const scratch = await openScratch(ctx, request);
  const cancel = () => { void scratch.db.cancel(); };
  ctx.options.signal?.addEventListener('abort', cancel);
  try {
    return await fn(scratch);
  } finally {
    ctx.options.signal?.removeEventListener('abort', cancel);
    // The run's findings (or its own error) are what matter; a failed clean-up is said on the side.
    const notices = await scratch.dispose().catch((e: unknown) => [`could not remove what was made on ${scratch.info.display}: ${(e as Error).message}`]);
    for (const notice of notices) ctx.options.onNotice?.(`scratch database: ${notice}`);
  }
}

async function openScratch(ctx: Context, request: ScratchRequest): Promise<OpenScratch> {
  if (request.scratchUrl) return givenScratch(ctx, request);
  if (!ctx.target) {
    throw new UsageError('verify needs a database: --url (a temporary database is created on that server, or an embedded one is used for pglite:) or --scratch-url postgres://…/empty_db');
  }
  if (ctx.target.kind === 'server') {
    const temporary = await temporaryScratch(ctx, ctx.target.url, request.texts);
    if (temporary) return temporary;
  }
  return embeddedScratch(ctx, request.extensions);
}
