/**
 * up and validate lint what they are about to apply with the static rules (against the live catalog),
 * and say the findings on the side: warnings never block. With lint `error` (--lint=error or config),
 * an error-level finding refuses the run. Loaded only when there is something pending.
 */
import { resolve } from 'node:path';
import type { Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import { Refused } from '../errors.js';
import type { PreparedStep } from '../runner/execute.js';
import type { MigrationStatus } from '../runner/plan.js';
import { readCatalog } from './catalog.js';
import { DEFAULT_LEVELS } from './levels.js';
import { formatFinding } from './report.js';
import { lintSources, type LintSource } from './runner.js';
import type { SquawkResult } from './squawk.js';
import type { Finding } from './types.js';

/**
 * What an online plan does for the statement instead of what lint warns of: an index built
 * CONCURRENTLY, a constraint added NOT VALID then validated, a batched backfill, a short lock_timeout
 * on every locking step. A statement of these kinds that the plan cannot rewrite is refused with the
 * reason before anything runs, so in a file that runs online the finding says nothing new.
 */
const DONE_BY_ONLINE = new Set(['index-not-concurrently', 'add-column-rewrite', 'alter-column-type', 'set-not-null', 'constraint-not-valid', 'unique-without-index', 'lock-timeout']);

/**
 * up: warn on stderr, or refuse (exit 3) on an error-level finding with --lint=error. `runsOnline`: the files
 * that run in their online form; `squawk`: runSquawk on the same files, started before they were parsed.
 */
export async function lintBeforeUp(ctx: Context, db: Db, steps: readonly PreparedStep[], runsOnline: (step: PreparedStep) => boolean = () => false, squawk?: Promise<SquawkResult>): Promise<void> {
  const online = new Set<string>();
  const sources = steps.filter((s) => s.direction === 'up').map((s): LintSource => {
    if (runsOnline(s) && s.script.transactional) online.add(s.script.path).add(resolve(s.script.path));
    return {
      path: s.script.path, file: resolve(s.script.path), id: `${s.versionText}_${s.name}`, text: s.script.text, transactional: s.script.transactional,
      ...(s.script.tree ? { tree: s.script.tree } : {}),
    };
  });
  for (const s of steps) delete s.script.tree; // read once, here: the run that follows need not hold every file's tree
  const blocking = await lintAndTell(ctx, db, sources, (f) => !(online.has(f.file) && DONE_BY_ONLINE.has(f.rule)), squawk);
  if (blocking.length) {
    throw new Refused(`refusing to migrate, nothing was applied: lint found ${count(blocking.length, 'error')} (--lint=error):\n${blocking.map((f) => `  ${formatFinding(f, false)}`).join('\n')}\nFix them (\`sqlmig lint\` says why and how), or silence one with \`-- sqlmig:lint-ignore rule-id reason\` above its statement.`);
  }
}

/** validate: the pending migrations' error-level findings as problems when lint is `error`; else warnings on the side. */
export async function lintForValidate(ctx: Context, db: Db, statuses: readonly MigrationStatus[], path: (file: string) => string): Promise<{ kind: 'lint'; message: string }[]> {
  const sources = statuses.filter((s) => s.file && (s.state === 'pending' || s.state === 'out-of-order')).map((s): LintSource => ({
    path: path(s.file!.upFile), file: resolve(path(s.file!.upFile)), id: s.file!.id, text: s.file!.upSql, transactional: !s.file!.directives.noTransaction,
  }));
  return (await lintAndTell(ctx, db, sources)).map((f) => ({ kind: 'lint', message: formatFinding(f, false) }));
}

/** The findings said on the side (onNotice); returns those that block: error level, in `error` mode. */
async function lintAndTell(ctx: Context, db: Db, sources: LintSource[], keep: (f: Finding) => boolean = () => true, squawk: Promise<SquawkResult> | true = true): Promise<Finding[]> {
  const mode = ctx.options.lint ?? 'warn';
  if (mode === 'off' || sources.length === 0) return [];
  let findings: Finding[];
  try {
    const catalog = await readCatalog(db);
    ({ findings } = await lintSources({
      steps: sources.map((lint) => ({ lint })), schema: catalog.schema, fresh: true,
      lockTimeout: ctx.options.ddlLockTimeoutMs !== undefined || catalog.lockTimeout, sizes: catalog.sizes, squawk,
      timeZone: catalog.timeZone, serverVersion: catalog.serverVersion,
      levels: { ...DEFAULT_LEVELS, blockingAsWarnings: true }, // up keeps its own policy: --lint decides what blocks
    }));
  } catch (error) {
    if (mode === 'error') throw error;
    ctx.options.onNotice?.(`lint: skipped, it failed: ${(error as Error).message}`); // warnings never block a run
    return [];
  }
  findings = findings.filter(keep);
  const blocking = mode === 'error' ? findings.filter((f) => f.level === 'error') : [];
  const told = findings.filter((f) => !blocking.includes(f));
  if (told.length) {
    ctx.options.onNotice?.(`lint: ${count(told.length, 'finding')} in the migrations about to run (\`sqlmig lint\` says why and how to fix; --lint=off silences this):\n${told.map((f) => `  ${formatFinding(f, false)}`).join('\n')}`);
  }
  return blocking;
}

const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
