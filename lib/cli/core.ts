/** The core commands: up, down, redo, status, current, history, create. */
import type { Argv } from 'yargs';
import { formatCreate, formatCurrent, formatHistory, formatMigrate, formatStatus } from '../report/text.js';
import type { Register } from './command.js';
import { formatBackup } from './safety.js';

export const registerCore: Register = (cli, run) => cli
  .command('up', 'apply pending migrations in order', (y: Argv) => y
    .option('to', { type: 'string', describe: 'apply up to and including this version' })
    .option('step', { type: 'number', describe: 'apply at most N migrations' })
    .option('dry-run', { type: 'boolean', describe: 'print the SQL that would run; change nothing' })
    .option('single-transaction', { type: 'boolean', describe: 'run the whole batch in one transaction' })
    .option('allow-out-of-order', { type: 'boolean', describe: 'apply a pending version lower than the newest applied one' })
    .option('backup', { type: 'boolean', describe: 'pg_dump into --backup-dir first; if it fails, nothing is applied (exit 6)' })
    .option('online', { type: 'boolean', describe: 'run each statement that would block a table in its lock-safe form, proved first on a scratch database (else package.json "sqlmig".online)' })
    .option('online-lock-timeout', { type: 'string', describe: 'online: lock_timeout of each locking step (default 1s)' })
    .option('lock-retries', { type: 'number', describe: 'online: retries of a step whose lock was not granted in time (default 10)' })
    .option('batch-size', { type: 'number', describe: 'online: rows per batch of a backfill or a whole-table UPDATE/DELETE (default: sized to take ~100 ms each, at most 10000)' })
    .option('lint', { type: 'string', choices: ['off', 'warn', 'error'], describe: 'lint what is about to run: warn on stderr (default), refuse on an error-level finding (error), or off (else package.json "sqlmig".lint)' }),
  run(async (a, m, out) => {
    const r = await m.up({ to: a['to'] as string | undefined, step: a['step'] as number | undefined, dryRun: a['dryRun'] as boolean, singleTransaction: a['singleTransaction'] as boolean, allowOutOfOrder: a['allowOutOfOrder'] as boolean, backup: a['backup'] as boolean, onBackup: (b) => out.progress(formatBackup(b)), online: a['online'] as boolean | undefined });
    out.result(formatMigrate(r), r);
  }))
  .command('down [n]', 'revert the last N applied migrations (default 1)', (y: Argv) => y
    .positional('n', { type: 'number', describe: 'how many to revert' })
    .option('to', { type: 'string', describe: 'revert everything above this version' })
    .option('all', { type: 'boolean', describe: 'revert every applied migration' })
    .option('dry-run', { type: 'boolean', describe: 'print the SQL that would run; change nothing' })
    .option('backup', { type: 'boolean', describe: 'pg_dump into --backup-dir first; if it fails, nothing is reverted (exit 6)' })
    .option('online', { type: 'boolean', describe: 'run each statement that would block a table in its lock-safe form, proved first on a scratch database (else package.json "sqlmig".online)' })
    .option('online-lock-timeout', { type: 'string', describe: 'online: lock_timeout of each locking step (default 1s)' })
    .option('lock-retries', { type: 'number', describe: 'online: retries of a step whose lock was not granted in time (default 10)' })
    .option('batch-size', { type: 'number', describe: 'online: rows per batch of a backfill or a whole-table UPDATE/DELETE (default: sized to take ~100 ms each, at most 10000)' })
    .option('stored-down', { type: 'boolean', describe: 'where a .down.sql was edited since it was applied, run the down SQL stored then (default: the file, with a warning)' }),
  run(async (a, m, out) => {
    const r = await m.down({ count: a['n'] as number | undefined, to: a['to'] as string | undefined, all: a['all'] as boolean | undefined, dryRun: a['dryRun'] as boolean, backup: a['backup'] as boolean, onBackup: (b) => out.progress(formatBackup(b)), online: a['online'] as boolean | undefined, storedDown: a['storedDown'] as boolean });
    out.result(formatMigrate(r, 'down'), r);
  }))
  .command('redo', 'revert the newest applied migration and apply it again', {}, run(async (_a, m, out) => {
    const r = await m.redo();
    out.result(formatMigrate(r, 'down'), r);
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
  .command('create [description..]', 'new NNN_slug.up.sql + .down.sql with the next version (to fill in, or with --up/--down)', (y: Argv) => y
    .positional('description', { type: 'string', describe: 'what the migration does, in words: names the files' })
    .option('up', { type: 'string', describe: 'the SQL of the up file (else a comment to replace with it)' })
    .option('down', { type: 'string', describe: 'the SQL of the down file that undoes --up' }),
  run(async (a, m, out) => {
    const r = await m.create(((a['description'] as string[] | undefined) ?? []).join(' '), { up: a['up'] as string | undefined, down: a['down'] as string | undefined });
    out.result(formatCreate(r), r);
  }));
