/**
 * The fleet on the command line: --targets / --schemas / config "targets" turn one command into many
 * single-database runs of the same handler, each on its own migrator, reported one line per target.
 */
import type { Argv } from 'yargs';
import type { Settings } from '../config.js';
import { UsageError } from '../errors.js';
import type { WithCompleted } from '../runner/execute.js';
import { targetFacts, FLEET_COLUMNS } from '../fleet/facts.js';
import { fleetJson, formatFleetFailures, formatFleetSummary, formatProgress, formatTargetLine, leftBehind, rerunCommand, type TargetFacts } from '../fleet/report.js';
import { fleetExitCode, runFleet, type FleetProgress, type TargetOutcome, type WorkResult } from '../fleet/run.js';
import { schemaTargets } from '../fleet/schemas.js';
import { configTargets, onePerServer, readTargetsFile, selectTargets, type FleetTarget } from '../fleet/targets.js';
import { createMigrator } from '../index.js';
import { formatStepEvent } from '../report/text.js';
import { maskSecret, passwordOf } from '../db/url.js';
import type { Handler } from './command.js';
import { Output } from './output.js';

const FLEET_FLAGS = ['parallel', 'failFast', 'canary', 'only', 'yesAllTargets'] as const;
const FLAG_NAMES: Record<string, string> = { parallel: '--parallel', failFast: '--fail-fast', canary: '--canary', only: '--only', yesAllTargets: '--yes-all-targets' };

export function registerFleetOptions(cli: Argv): Argv {
  return cli
    .option('targets', { type: 'string', describe: 'run on every database listed in FILE (name=URL or URL per line, # comments); without FILE, the config\'s "targets"' })
    .option('schemas', { type: 'string', describe: 'run once per schema of the database matching PATTERN (\'tenant_*\'), each with its own search_path and history table' })
    .option('parallel', { type: 'number', describe: 'fleet: how many targets at a time (default 4)' })
    .option('fail-fast', { type: 'boolean', describe: 'fleet: start no new target after one failed' })
    .option('canary', { type: 'number', describe: 'fleet: run the first N targets first; go on only if they all succeeded' })
    .option('only', { type: 'string', describe: 'fleet: only the targets with these names (comma-separated)' })
    .option('yes-all-targets', { type: 'boolean', describe: 'fleet: let down revert migrations on every target' });
}

/** The fleet this command runs on, or null for one database. Every bad input is a usage error, before any target is touched. */
export async function fleetTargets(args: Record<string, unknown>, settings: Settings): Promise<FleetTarget[] | null> {
  const file = args['targets'] as string | undefined;
  const schemas = args['schemas'] as string | undefined;
  const implicit = file === undefined && schemas === undefined && settings.target === null && settings.configTargets !== undefined;
  if (file === undefined && schemas === undefined && !implicit) {
    const stray = FLEET_FLAGS.filter((f) => args[f] !== undefined);
    if (stray.length) throw new UsageError(`${stray.map((f) => FLAG_NAMES[f]).join(', ')}: only with --targets FILE or --schemas PATTERN`);
    return null;
  }
  const command = String((args['_'] as unknown[])[0]);
  const columns = FLEET_COLUMNS[command];
  if (!columns) throw new UsageError(`${command} runs on one database; with --targets or --schemas run ${Object.keys(FLEET_COLUMNS).join(', ')}`);
  if (file !== undefined && schemas !== undefined) throw new UsageError('give --targets or --schemas, not both');
  if (file !== undefined && args['url'] !== undefined) throw new UsageError('give --url (one database) or --targets (many), not both');
  if (schemas !== undefined && args['schema'] !== undefined) throw new UsageError('--schemas keeps each history table in its tenant\'s schema: leave out --schema');
  if (command === 'down' && !args['yesAllTargets'] && !args['dryRun']) {
    throw new UsageError('down on a fleet reverts migrations on every target: add --yes-all-targets to mean it (see what it would do with --dry-run)');
  }
  if ((command === 'verify' || command === 'drift') && (args['scratchUrl'] !== undefined || schemas !== undefined)) {
    throw new UsageError(`${command} on a fleet uses a temporary database on each target's server: leave out --scratch-url and --schemas`);
  }
  positive(args['parallel'], '--parallel');
  positive(args['canary'], '--canary');
  let targets: FleetTarget[];
  if (schemas !== undefined) targets = await schemaTargets(settings.target, schemas, settings.lockTimeoutMs);
  else if (file) targets = readTargetsFile(file);
  else if (settings.configTargets !== undefined && settings.configFile) targets = configTargets(settings.configTargets, settings.configFile);
  else throw new UsageError('--targets without a FILE uses the "targets" list of the package.json "sqlmig" config, and there is none');
  const selected = selectTargets(targets, args['only'] as string | undefined);
  return command === 'verify' ? onePerServer(selected) : selected;
}

function positive(value: unknown, flag: string): void {
  if (value !== undefined && (!Number.isInteger(value) || (value as number) < 1)) throw new UsageError(`${flag}: expected a whole number, 1 or more`);
}

export interface FleetRun {
  targets: FleetTarget[];
  handler: Handler;
  args: Record<string, unknown>;
  /** The command line as given, for the rerun command. */
  argv: readonly string[];
  settings: Settings;
  out: Output;
  signal: AbortSignal;
}

export async function runFleetCommand(run: FleetRun): Promise<number> {
  const { args, out, settings, signal } = run;
  const command = String((args['_'] as unknown[])[0]);
  const columns = FLEET_COLUMNS[command]!;
  const printer = new FleetPrinter(out);
  printer.start(run.targets.length);
  const work = async (t: FleetTarget): Promise<WorkResult<TargetFacts>> => {
    const mask = (text: string) => maskSecret(text, passwordOf(t.target.url));
    const migrator = createMigrator({
      target: t.target, dir: settings.dir, schema: t.schema ?? settings.schema, table: settings.table,
      backupDir: settings.backupDir, lockTimeoutMs: settings.lockTimeoutMs,
      statementTimeoutMs: settings.statementTimeoutMs, ddlLockTimeoutMs: settings.ddlLockTimeoutMs,
      online: settings.online, onlineLockTimeoutMs: settings.onlineLockTimeoutMs, lockRetries: settings.lockRetries, batchSize: settings.batchSize,
      signal, onStep: (e) => { const line = formatStepEvent(e); if (line) out.debug(`${t.name}: ${line}`); },
      onNotice: (m) => out.info(`${t.name}: ${mask(m)}`),
    });
    const captured = new CapturedOutput(args);
    const versions = command === 'up' || command === 'down';
    const before = versions ? await migrator.current() : undefined;
    const after = async () => (command === 'down' ? migrator.current().catch(() => null) : undefined);
    try {
      const exitCode = (await run.handler(args, migrator, captured, t.display)) ?? 0;
      const facts = targetFacts({ command, data: captured.data, before, after: await after() });
      return { exitCode, result: facts, message: mask(failureMessage(command, captured, facts)) };
    } catch (error) {
      const e = error as Error & Partial<WithCompleted> & { result?: TargetFacts };
      e.result = targetFacts({ command, before, after: await after(), completed: e.completed });
      e.message = mask(e.message);
      throw e;
    }
  };
  const outcomes = await runFleet(run.targets, work, {
    parallel: (args['parallel'] as number | undefined) ?? 4,
    failFast: Boolean(args['failFast']),
    canary: args['canary'] as number | undefined,
    signal,
  }, (outcome, progress) => printer.finished(outcome, progress));
  printer.end();
  const exitCode = fleetExitCode(outcomes, signal);
  const report = { command, columns, outcomes, exitCode, rerun: rerunCommand(run.argv, leftBehind(outcomes)) };
  out.result(formatFleetSummary(report), fleetJson(report));
  const failed = outcomes.filter((o) => o.state === 'failed');
  if (exitCode && !out.json) {
    out.error(exitCode, `${failed.length} of ${outcomes.length} targets failed${failed.length ? `:\n${formatFleetFailures(outcomes)}` : ''}`);
  }
  return exitCode;
}

/** status --check, validate, verify: what a non-zero code means, when no error said it. */
function failureMessage(command: string, captured: CapturedOutput, facts: TargetFacts): string {
  if (command === 'status') return `${facts.cells['pending']} pending (--check)`;
  return captured.text;
}

/** A handler's output kept for the fleet report instead of printed. */
class CapturedOutput extends Output {
  data: unknown;
  text = '';
  override result(text: string, data: unknown): void {
    this.text = text;
    this.data = data;
  }
  override progress(): void {}
  override info(): void {}
  override error(): void {}
}

/** One line per target as it finishes; on a terminal, a progress line under them. */
class FleetPrinter {
  private readonly tty: boolean;
  private shown = false;
  constructor(private readonly out: Output) {
    this.tty = Boolean(process.stderr.isTTY) && !out.quiet;
  }

  start(total: number): void {
    this.draw({ done: 0, failed: 0, total });
  }

  finished(outcome: TargetOutcome<TargetFacts>, progress: FleetProgress): void {
    this.clear();
    this.out.progress(formatTargetLine(outcome));
    this.draw(progress);
  }

  end(): void {
    this.clear();
  }

  private draw(progress: FleetProgress): void {
    if (!this.tty || progress.done >= progress.total) return;
    process.stderr.write(formatProgress(progress));
    this.shown = true;
  }

  private clear(): void {
    if (this.shown) process.stderr.write('\r\x1b[2K');
    this.shown = false;
  }
}
