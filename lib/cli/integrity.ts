/** validate, repair, stamp, forget, renumber. */
import type { Argv } from 'yargs';
import type { Register } from './command.js';

const list = (items: { version: string; name: string }[]) => items.map((i) => `${i.version}_${i.name}`).join(', ');

export const registerIntegrity: Register = (cli, run) => cli
  .command('validate', 'check files and database: conflicts, bad files, edited, missing, out-of-order (exit 3 on any)', (y: Argv) => y
    .option('lint', { type: 'string', choices: ['off', 'warn', 'error'], describe: 'lint the pending migrations: warn on stderr (default), count error-level findings as problems (error), or off' }),
  run(async (_a, m, out) => {
    const r = await m.validate();
    const { formatValidation } = await import('../commands/integrity.js');
    out.result(formatValidation(r), r);
    return r.ok ? 0 : 3;
  }))
  .command('repair [VERSION]', 'accept the current file of an edited applied migration (all edited ones without a version)', (y: Argv) => y
    .positional('VERSION', { type: 'string', describe: 'the version to repair' }),
  run(async (a, m, out) => {
    const r = await m.repair(a['VERSION'] as string | undefined);
    out.result(r.repaired.length ? `repaired ${list(r.repaired)}: stored the current file's checksum and text` : 'nothing to repair: no applied migration was edited', r);
  }))
  .command('stamp <VERSION>', 'record every migration up to VERSION as applied without running it', (y: Argv) => y
    .positional('VERSION', { type: 'string', describe: 'the newest version the database already has' }),
  run(async (a, m, out) => {
    const r = await m.stamp(a['VERSION'] as string);
    out.result(r.stamped.length ? `stamped ${list(r.stamped)} as applied (nothing was run)` : 'nothing to stamp: all of them are recorded already', r);
  }))
  .command('forget <VERSION>', "remove VERSION's history row without running anything", (y: Argv) => y
    .positional('VERSION', { type: 'string', describe: 'the applied version to forget' }),
  run(async (a, m, out) => {
    const r = await m.forget(a['VERSION'] as string);
    out.result(`forgot ${r.forgotten.version}_${r.forgotten.name}: its history row is gone; nothing was run`, r);
  }))
  .command('renumber', 'resolve version conflicts by moving unapplied files to the next free versions', (y: Argv) => y
    .option('dry-run', { type: 'boolean', describe: 'print the renames without doing them' }),
  run(async (a, m, out) => {
    const r = await m.renumber({ dryRun: a['dryRun'] as boolean });
    const verb = r.dryRun ? 'would rename' : 'renamed';
    out.result(r.renames.length ? r.renames.map((x) => `${verb} ${x.from} -> ${x.to}`).join('\n') : 'no version conflict: nothing to renumber', r);
  }));
