/** The command line: yargs → library → report → exit code. Nothing here decides what to migrate. */
import { setFlagsFromString } from 'node:v8';
import yargs, { type Argv } from 'yargs';
import { resolveSettings, type Flags } from '../config.js';
import { Interrupted, SqlmigError, UsageError } from '../errors.js';
import { createMigrator } from '../index.js';
import type { Handler } from './command.js';
import { registerCore } from './core.js';
import { fleetTargets, registerFleetOptions, runFleetCommand } from './fleet.js';
import { registerIntegrity } from './integrity.js';
import { registerLint } from './lint.js';
import { registerSafety } from './safety.js';
import { registerSchema } from './schema.js';
import { registerVerify } from './verify.js';
import { maskUrl } from '../db/url.js';
import { groupCommandHelp, groupGlobalOptions, unknownArgumentMessage } from './help.js';
import { Output } from './output.js';
import { ownPackageJson } from '../package-json.js';

interface CommonArgs extends Flags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  color?: boolean;
}


export async function main(argv: string[]): Promise<number> {
  // `sqlmig help up` is `sqlmig up --help`.
  if (argv[0] === 'help') argv = [...argv.slice(1), '--help'];
  // Keep V8's young generation small: parsing thousands of files makes short-lived garbage, and the
  // default growth doubled the heap for it (peak RSS of a 1,000-migration up ~105 → ~85 MB, same speed).
  setFlagsFromString('--semi-space-growth-factor=1');
  // `sqlmig up | head`: a reader that goes away must not kill a run between two migrations; the output is lost, the run goes on.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => { if (error.code !== 'EPIPE') throw error; });
  }
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
      for (const warning of settings.warnings) out.info(`warning: ${warning}`);
      for (const note of settings.notes) out.debug(note);
      const targets = await fleetTargets(args, settings);
      if (targets) {
        exitCode = await runFleetCommand({ targets, handler, args, argv, settings, out, signal: controller.signal });
        return;
      }
      const migrator = createMigrator({
        target: settings.target, dir: settings.dir, schema: settings.schema, table: settings.table,
        backupDir: settings.backupDir, lockTimeoutMs: settings.lockTimeoutMs,
        statementTimeoutMs: settings.statementTimeoutMs, ddlLockTimeoutMs: settings.ddlLockTimeoutMs, lint: settings.lint,
        ...(settings.lintSmallTable ? { lintSmallTable: settings.lintSmallTable } : {}),
        online: settings.online, onlineLockTimeoutMs: settings.onlineLockTimeoutMs, lockRetries: settings.lockRetries, batchSize: settings.batchSize,
        signal: controller.signal, onStep: out.onStep, onNotice: (m) => out.info(m), onRows: out.onRows,
      });
      const target = settings.target ? maskUrl(settings.target.url) : '(none)';
      out.debug(`database ${target}; folder ${settings.dir}; history ${settings.schema}.${settings.table}${settings.configFile ? `; config ${settings.configFile}` : ''}`);
      exitCode = (await handler(args, migrator, out, target)) ?? 0;
    } catch (error) {
      exitCode = report(error, out, controller.signal);
    }
  };

  let cli: Argv = groupCommandHelp(yargs(argv))
    .scriptName('sqlmig')
    .usage('$0 <command> [options]\n\nPostgreSQL migrations in plain SQL files: NNN_name.up.sql + NNN_name.down.sql.\n' +
      'Start: sqlmig create "add users" --up "CREATE TABLE users (id int PRIMARY KEY)", then sqlmig up. `sqlmig help COMMAND` for one command.')
    .option('config', { type: 'string', describe: 'read settings from this JSON file (else the nearest sqlmig.config.json, .sqlmigrc.json or package.json "sqlmig")' })
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
    .option('backup-dir', { type: 'string', describe: 'folder for backups (backup, up/down --backup; else package.json "sqlmig".backupDir, ./backups)' });
  for (const register of [registerCore, registerIntegrity, registerSafety, registerVerify, registerLint, registerSchema, registerFleetOptions]) cli = register(cli, run);
  cli = groupGlobalOptions(cli)
    .command('help [command]', 'help on one command, e.g. sqlmig help up')
    .completion('completion', 'print a bash/zsh completion script: sqlmig completion >> ~/.bashrc (or ~/.zshrc)')
    .demandCommand(1, 'name a command: up, down, redo, status, current, history, create (see --help)')
    .recommendCommands()
    .strict()
    .version('version', 'print the version and exit', packageVersion())
    .alias('version', 'V')
    .help('help', 'show this help')
    .alias('help', 'h')
    // yargs renders (and caches) the help text on every run; wrapping it costs ~25 ms, so only wrap when it is shown.
    .wrap(argv.includes('--help') || argv.includes('-h') ? Math.min(110, process.stdout.columns || 100) : null)
    .exitProcess(false)
    .fail((message, error) => {
      if (error) throw error;
      throw new UsageError(/^Unknown arguments?:/.test(message) ? unknownArgumentMessage(message, argv) : message);
    });

  skipHelpRendering(cli);
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

/**
 * yargs renders a command's whole help text each time it starts the command, only to print it should the
 * command fail; ours never prints help on failure (errors are reported by `report`). Skipping it saves
 * 10–15 ms of CPU on every run. Without yargs' internal hook (another yargs version), nothing changes.
 */
function skipHelpRendering(cli: Argv): void {
  type Internals = { getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?: () => void } } };
  const usage = (cli as unknown as Internals).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

function packageVersion(): string {
  return ownPackageJson().version;
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
