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
import { embeddedScratch, givenScratch, temporaryScratch } from './scratch-databases.js';

export interface ScratchInfo {
  kind: 'given' | 'temporary' | 'embedded';
  /** Where it is, password masked: safe to print. */
  display: string;
}

export interface ScratchRequest {
  scratchUrl?: string;
  /** PGlite contrib extensions the migrations create: an in-memory PGlite must have them from the start. */
  extensions: string[];
  /** The migrations' SQL: a role or tablespace that appears on the server is dropped only if they name it. */
  texts: string[];
}

export interface Scratch {
  readonly info: ScratchInfo;
  /** The session to run migrations on; reset() replaces it. */
  readonly db: Db;
  /** Close the session and start again on an empty scratch database and a new session (after a failed round trip). */
  reset(): Promise<Db>;
  /** Where it is, password included: only for a second connection to it (the diff engine's), never printed. */
  readonly target: Target;
}

export interface OpenScratch extends Scratch {
  /** Remove what verify made; returns sentences about what could not be removed or was left (said on the side, never fatal). */
  dispose(): Promise<string[]>;
}

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
