/**
 * Before the target is touched: on a scratch database (the one verify and diff use), after the migrations
 * already applied, the online plans must give exactly the schema the plain files give. Column order
 * aside, which is a note. Otherwise refused (exit 3), naming each difference.
 */
import type { Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import { Refused } from '../errors.js';
import { executePlan, type PreparedStep } from '../runner/execute.js';
import { ensureHistory, readHistory } from '../runner/history.js';
import { loadNeededExtensions } from '../runner/steps.js';
import { scriptExtensions } from '../migrations/script.js';
import { compareSnapshots, isNote } from '../schema/compare.js';
import { prepareStoredSteps } from '../schema/replay.js';
import { withScratch } from '../schema/scratch.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from '../schema/snapshot.js';
import { executeOnlinePlan, type OnlineRunOptions } from './executor.js';
import type { OnlinePlans } from './plan-steps.js';

/** Returns the notes (column order); throws Refused when the schemas differ. */
export async function proveOnline(ctx: Context, db: Db, steps: readonly PreparedStep[], plans: OnlinePlans, options: OnlineRunOptions): Promise<string[]> {
  if (!plans.some((p) => p?.rewritten)) return [];
  const earlier = await prepareStoredSteps(ctx, db, await readHistory(db, ctx.table));
  const all = [...earlier, ...steps];
  const request = { scratchUrl: ctx.options.scratchUrl, extensions: [...new Set(all.flatMap((s) => scriptExtensions(s.script)))], texts: all.map((s) => s.script.text) };
  const build = (online: boolean) => withScratch(ctx, request, async ({ db: scratch }): Promise<SchemaSnapshot> => {
    await loadNeededExtensions(scratch, all);
    await ensureHistory(scratch, ctx.table);
    await executePlan(scratch, earlier, { table: ctx.table, signal: ctx.options.signal });
    for (const [i, step] of steps.entries()) {
      const plan = plans[i];
      if (online && plan) await executeOnlinePlan(scratch, step, plan, { ...options, onStep: undefined, onProgress: undefined, onRows: undefined });
      else await executePlan(scratch, [step], { table: ctx.table, signal: ctx.options.signal });
    }
    return takeSchemaSnapshot(scratch, ctx.table);
  });
  let plain: SchemaSnapshot;
  try {
    plain = await build(false);
  } catch (error) {
    if ((error as { exitCode?: number }).exitCode === 130 || (error as { exitCode?: number }).exitCode === 143) throw error;
    throw new Refused(`refusing to migrate online, nothing was run: the plan could not be proved, because the migrations do not run on an empty scratch database (${(error as Error).message.split('\n')[0]}). ` +
      'The proof replays the applied migrations (as stored in history) and then the pending files; a database whose tables were made outside sqlmig (stamped) cannot be rebuilt that way. Run the files without --online, or mark them -- sqlmig:offline.', { cause: error });
  }
  const online = await build(true);
  const differences = compareSnapshots(plain, online);
  const real = differences.filter((d) => !isNote(d));
  if (real.length) {
    throw new Refused(`refusing to migrate online, nothing was run: on a scratch database the online plan does not give the schema the files give:\n${real.map((d) => `  ${d.message}`).join('\n')}\n` +
      'This is a bug in sqlmig\'s online form of these statements: run them without --online (or mark the file -- sqlmig:offline) and report it.');
  }
  return differences.map((d) => d.message);
}
