/** The command line: yargs → library → report → exit code. Nothing here decides what to migrate. */
import yargs, { type Argv } from 'yargs';
import { resolveSettings, type Flags } from '../config.js';
import { Interrupted, SqlmigError, UsageError } from '../errors.js';
import { createMigrator, type Migrator } from '../index.js';
import { formatCreate, formatCurrent, formatHistory, formatMigrate, formatStatus } from '../report.js';
import { maskUrl } from '../url.js';
import { Output } from './output.js';

interface CommonArgs extends Flags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  color?: boolean;
}

type Handler = (args: Record<string, unknown>, migrator: Migrator, out: Output, target: string) => Promise<number | void>;

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143); // a second signal: stop now
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const run = (handler: Handler) => async (args: Record<string, unknown>) => {
    const out = new Output(args as CommonArgs);
    try {
      const settings = resolveSettings(args as Flags);
      const migrator = createMigrator({
        target: settings.target, dir: settings.dir, schema: settings.schema, table: settings.table,
        backupDir: settings.backupDir, lockTimeoutMs: settings.lockTimeoutMs,
        statementTimeoutMs: settings.statementTimeoutMs, ddlLockTimeoutMs: settings.ddlLockTimeoutMs,
        signal: controller.signal, onStep: out.onStep, onNotice: (m) => out.info(m),
      });
      const target = settings.target ? maskUrl(settings.target.url) : '(none)';
      out.debug(`database ${target}; folder ${settings.dir}; history ${settings.schema}.${settings.table}${settings.configFile ? `; config ${settings.configFile}` : ''}`);
      exitCode = (await handler(args, migrator, out, target)) ?? 0;
    } catch (error) {
      exitCode = report(error, out, controller.signal);
    }
  };

  const cli = yargs(argv)
    .scriptName('sqlmig')
    .usage('$0 <command> [options]\n\nPostgreSQL migrations in plain SQL files: NNN_name.up.sql + NNN_name.down.sql.')
    .option('url', { type: 'string', describe: 'database: postgres://user:pass@host/db, pglite:PATH or pglite:memory (else DATABASE_URL, package.json "sqlmig".url, PG* variables)' })
    .option('dir', { type: 'string', describe: 'migrations folder (else SQLMIG_DIR, package.json "sqlmig".dir, ./sql)' })
    .option('schema', { type: 'string', describe: 'schema of the history table (default public)' })
    .option('table', { type: 'string', describe: 'name of the history table (default sqlmig_history)' })
    .option('json', { type: 'boolean', describe: 'print one JSON document on stdout' })
    .option('color', { type: 'boolean', default: true, describe: 'colour on a terminal (--no-color or NO_COLOR turn it off)' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print only errors' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'say more about what is happening (on stderr)' })
    .option('lock-timeout', { type: 'string', describe: 'wait this long for another runner (default 60s)' })
    .option('statement-timeout', { type: 'string', describe: 'PostgreSQL statement_timeout for the session' })
    .option('ddl-lock-timeout', { type: 'string', describe: 'PostgreSQL lock_timeout for the session: fail instead of queueing behind long queries' })
    .command('up', 'apply pending migrations in order', (y: Argv) => y
      .option('to', { type: 'string', describe: 'apply up to and including this version' })
      .option('step', { type: 'number', describe: 'apply at most N migrations' })
      .option('dry-run', { type: 'boolean', describe: 'print the SQL that would run; change nothing' })
      .option('single-transaction', { type: 'boolean', describe: 'run the whole batch in one transaction' })
      .option('allow-out-of-order', { type: 'boolean', describe: 'apply a pending version lower than the newest applied one' }),
    run(async (a, m, out) => {
      const r = await m.up({ to: a['to'] as string | undefined, step: a['step'] as number | undefined, dryRun: a['dryRun'] as boolean, singleTransaction: a['singleTransaction'] as boolean, allowOutOfOrder: a['allowOutOfOrder'] as boolean });
      out.result(formatMigrate(r), r);
    }))
    .command('down [n]', 'revert the last N applied migrations (default 1)', (y: Argv) => y
      .positional('n', { type: 'number', describe: 'how many to revert' })
      .option('to', { type: 'string', describe: 'revert everything above this version' })
      .option('all', { type: 'boolean', describe: 'revert every applied migration' })
      .option('dry-run', { type: 'boolean', describe: 'print the SQL that would run; change nothing' }),
    run(async (a, m, out) => {
      const r = await m.down({ count: a['n'] as number | undefined, to: a['to'] as string | undefined, all: a['all'] as boolean | undefined, dryRun: a['dryRun'] as boolean });
      out.result(formatMigrate(r), r);
    }))
    .command('redo', 'revert the newest applied migration and apply it again', {}, run(async (_a, m, out) => {
      const r = await m.redo();
      out.result(formatMigrate(r), r);
    }))
    .command('status', 'every migration with its state', (y: Argv) => y
      .option('check', { type: 'boolean', describe: 'exit 7 when migrations are pending' }),
    run(async (a, m, out, target) => {
      const r = await m.status();
      out.result(formatStatus(r, target), r);
      return a['check'] && r.pending > 0 ? 7 : 0;
    }))
    .command('current', 'the current version, e.g. 001_ai_hub (head)', {}, run(async (_a, m, out) => {
      const r = await m.current();
      out.result(formatCurrent(r), r);
    }))
    .command('history', 'applied migrations with when, who and how long', {}, run(async (_a, m, out) => {
      const r = await m.history();
      out.result(formatHistory(r), { history: r });
    }))
    .command('create <description..>', 'new NNN_slug.up.sql + .down.sql with the next version', {}, run(async (a, m, out) => {
      const r = await m.create((a['description'] as string[]).join(' '));
      out.result(formatCreate(r), r);
    }))
    .demandCommand(1, 'name a command: up, down, redo, status, current, history, create (see --help)')
    .recommendCommands()
    .strict()
    .version(false)
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    });

  try {
    await cli.parseAsync();
  } catch (error) {
    exitCode = report(error, new Output({ json: argv.includes('--json') }), controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}

function report(error: unknown, out: Output, signal: AbortSignal): number {
  if (signal.aborted && !(error instanceof Interrupted)) {
    const name = signal.reason as NodeJS.Signals;
    error = new Interrupted(name, `interrupted by ${name}; nothing was left half-done (the running statement was cancelled and rolled back).`);
  }
  if (error instanceof SqlmigError) {
    out.error(error.exitCode, error.message);
    return error.exitCode;
  }
  const e = error as Error;
  out.error(1, `${e?.message ?? String(error)}${process.env['SQLMIG_DEBUG'] && e?.stack ? `\n${e.stack}` : ''}`);
  return 1;
}
