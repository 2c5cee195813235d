/**
 * How many rows the next batch of a batched pass takes. A writer that touches a row of the batch being
 * changed waits for that batch's commit, so without --batch-size a batch is sized by time: the first
 * takes FIRST_BATCH rows, and each next one as many as the last batch's speed says fit in TARGET_MS,
 * at most twice or half the last size, never more than the maximum (the default --batch-size). With
 * --batch-size every batch takes exactly that many.
 */
export const TARGET_MS = 100;
const FIRST_BATCH = 1000;
const SMALLEST = 100;

export interface BatchSizer {
  /** The size of the next batch. */
  readonly size: number;
  /** The batch just done took `ms` for `rows` rows. */
  done(rows: number, ms: number): void;
}

export function batchSizer(options: { max: number; timeBoxed: boolean }): BatchSizer {
  if (!options.timeBoxed) return { size: options.max, done() {} };
  let size = Math.min(options.max, FIRST_BATCH);
  return {
    get size() { return size; },
    done(rows, ms) {
      if (rows < size) return; // the last batch: the table's end, not its speed
      const fits = Math.round((rows * TARGET_MS) / Math.max(ms, 1));
      size = Math.max(Math.min(SMALLEST, options.max), Math.min(options.max, size * 2, Math.max(Math.round(size / 2), fits)));
    },
  };
}

/** "batches of 10000", or with sizing by time "batches of up to 10000 (~100 ms each)". */
export function batchesText(options: { batchSize: number; batchTimeBoxed?: boolean }): string {
  return options.batchTimeBoxed ? `batches of up to ${options.batchSize} (~${TARGET_MS} ms each)` : `batches of ${options.batchSize}`;
}
