/** backup, restore. */
import { relative } from 'node:path';
import type { Argv } from 'yargs';
import type { BackupResult, RestoreResult } from '../commands/backup.js';
import type { Register } from './command.js';

export const registerSafety: Register = (cli, run) => cli
  .command('backup', 'pg_dump of the database (custom format; plain SQL on pglite:) into --backup-dir, mode 0600', (y: Argv) => y
    .option('out', { type: 'string', describe: 'write to this file instead of a new one in --backup-dir' }),
  run(async (a, m, out) => {
    const r = await m.backup({ out: a['out'] as string | undefined });
    out.result(formatBackup(r), r);
  }))
  .command('restore <file>', 'replace the database\'s content with a backup made by sqlmig backup (needs --force)', (y: Argv) => y
    .positional('file', { type: 'string', describe: 'the backup file' })
    .option('force', { type: 'boolean', describe: 'really overwrite the database' }),
  run(async (a, m, out) => {
    const r = await m.restore(a['file'] as string, { force: a['force'] as boolean });
    out.result(formatRestore(r), r);
    if (r.notInBackup.length) {
      out.info(`warning: not in the backup, so left as they are: ${r.notInBackup.join(', ')}. ` +
        'If migrations applied after the backup created them, drop them before running sqlmig up again.');
    }
  }));

export function formatBackup(r: BackupResult): string {
  return `backup of ${r.database} at ${r.version ?? '(no migration applied)'} written to ${shown(r.file)} (${size(r.bytes)})`;
}

export function formatRestore(r: RestoreResult): string {
  return `restored ${shown(r.file)} into ${r.database}: version ${r.before ?? '(none)'} -> ${r.after ?? '(none)'}`;
}

function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}
