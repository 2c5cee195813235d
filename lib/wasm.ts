/**
 * How V8 compiles WebAssembly in this process. With a server target the only WASM is the SQL parser
 * (libpg-query): short calls that V8's optimizing tier re-compiles in the background for nothing —
 * for 1,000 files ~40 MB of peak memory and no time saved (measured: peak RSS 105 → 65 MB, parse
 * time slightly lower with Liftoff only). Embedded PGlite is the opposite: long-running work that the
 * optimizing tier speeds up ~2x, so a process that runs PGlite keeps V8's default.
 */
import { setFlagsFromString } from 'node:v8';

let embeddedEngine = false;
let baselineOnly = false;

/** Before PGlite's WASM is compiled. */
export function usingEmbeddedEngine(): void {
  embeddedEngine = true;
}

/** On connecting to a server, before the parser's WASM is compiled. */
export function preferBaselineWasmCompiler(): void {
  if (baselineOnly || embeddedEngine) return;
  baselineOnly = true;
  setFlagsFromString('--liftoff-only');
}
