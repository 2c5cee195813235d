/**
 * The words for a command stopped by a signal while it worked on a scratch database: what happened to
 * the scratch database, never the scratch run's own report (which reads as if the target had been migrated).
 */
import { Interrupted } from '../errors.js';
import type { ScratchInfo } from './scratch-databases.js';

export function signalName(signal: AbortSignal): 'SIGINT' | 'SIGTERM' {
  return signal.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
}

const FATE: Record<ScratchInfo['kind'], string> = { given: 'is emptied again', temporary: 'is dropped', embedded: 'is discarded' };

/** What withScratch does with the scratch database on the way out: "is dropped". */
export function scratchFate(scratch: ScratchInfo): string {
  return FATE[scratch.kind];
}

/** `interrupted by SIGTERM: <command> stopped before it finished[, on its scratch database X, which is dropped]. <outcome>` */
export function interruptedOnScratch(signal: AbortSignal, command: string, scratch: ScratchInfo | null, outcome: string): Interrupted {
  const name = signalName(signal);
  const where = scratch ? `, on its scratch database ${scratch.display}, which ${scratchFate(scratch)}` : '';
  return new Interrupted(name, `interrupted by ${name}: ${command} stopped before it finished${where}. ${outcome}`);
}

/** Where verify was when it stopped: its scratch database once open, and the migration it was at. */
export interface Whereabouts { scratch: ScratchInfo | null; at: string | null }

/**
 * The runner's words for an interruption speak of the database it ran on, and of a --single-transaction
 * batch where verify's own transaction was meant: verify says what it means for the target instead.
 */
export function interruptedVerify(signal: `SIG${string}`, where: Whereabouts): Interrupted {
  const scratch = where.scratch === null ? '' : where.scratch.kind === 'temporary'
    ? ', which is dropped'
    : where.scratch.kind === 'given' ? ` (${where.scratch.display}), which is emptied again` : ' (an embedded PGlite in memory), which is discarded';
  const at = where.at ? ` at ${where.at}` : '';
  return new Interrupted(signal, `interrupted by ${signal} during verify${at}: nothing of the target changed (verify runs migrations only on its scratch database${scratch}).`);
}
