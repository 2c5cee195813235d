/**
 * How V8 compiles WebAssembly in this process: with Liftoff, its baseline compiler, only. Both of our
 * WASM engines run short bursts that V8's optimizing tier re-compiles in the background for nothing.
 * Measured on Node 20 (2 cores), Liftoff only against V8's default tiering:
 * - the SQL parser (libpg-query), 1,000 files: peak RSS 105 → 65 MB, parse time slightly lower;
 * - embedded PGlite, `status` on an existing folder: 0.59 → 0.42 s wall, 0.85 → 0.49 s CPU, 338 → 253 MB
 *   (closing the database alone took 180–470 ms while the optimizing tier was still busy);
 * - PGlite applying a 285-migration history: 6.4 → 3.4 s; verify of the 10-migration example: 3.7 → 2.2 s CPU;
 * - PGlite on CPU-bound work (a 10-million-step plpgsql loop, a sorted 1-million-row table): the same CPU time.
 */
import { setFlagsFromString } from 'node:v8';

let baselineOnly = false;

/** Before any WASM engine is compiled (the parser or PGlite); V8 reads the flag at compile time. */
export function preferBaselineWasmCompiler(): void {
  if (baselineOnly) return;
  baselineOnly = true;
  setFlagsFromString('--liftoff-only');
}
