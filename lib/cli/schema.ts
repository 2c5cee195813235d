/** diff, drift: the schema as a whole against the migrations. */
import type { Argv } from 'yargs';
import { resolveSettings, type Flags } from '../config.js';
import type { Register } from './command.js';

const scratchOption = { type: 'string', describe: 'an empty database to build on (else a temporary database on the --url server, else an embedded PGlite)' } as const;

export const registerSchema: Register = (cli, run) => cli
  .command('diff', 'write the next migration pair that takes the migrated schema to the desired one (schema.sql) and back, proved on a scratch database first', (y: Argv) => y
    .option('schema-file', { type: 'string', describe: 'the desired schema: a .sql file or a folder of them (else package.json "sqlmig".schemaFile, ./schema.sql)' })
    .option('name', { type: 'string', describe: 'describe the change; names the files (default: the first change found)' })
    .option('dry-run', { type: 'boolean', describe: 'print the proved files; write nothing' })
    .option('check', { type: 'boolean', describe: 'write nothing; exit 3 when the migrations and the schema file disagree (a CI gate)' })
    .option('scratch-url', scratchOption),
  run(async (a, m, out) => {
    const { formatDiff, diffWarnings } = await import('../report/schema.js');
    const mode = { check: a['check'] as boolean | undefined, dryRun: a['dryRun'] as boolean | undefined };
    const settings = resolveSettings(a as Flags);
    const r = await m.diff({
      schemaFile: settings.schemaFile, lockTimeout: settings.diffLockTimeout, name: a['name'] as string | undefined, ...mode,
      scratchUrl: a['scratchUrl'] as string | undefined,
    });
    for (const line of diffWarnings(r, mode)) out.info(line);
    const text = formatDiff(r, mode);
    out.result(text, r);
    if (mode.check && r.changed) {
      if (out.quiet && !out.json) out.error(3, text);
      return 3;
    }
    return 0;
  }))
  .command('drift', 'compare the database with what its applied migrations (the SQL stored in history) make on a scratch database; exit 3 on any difference', (y: Argv) => y
    .option('scratch-url', scratchOption),
  run(async (a, m, out) => {
    const { formatDrift } = await import('../report/schema.js');
    const r = await m.drift({ scratchUrl: a['scratchUrl'] as string | undefined });
    const text = formatDrift(r);
    out.result(text, r);
    if (r.drift && out.quiet && !out.json) out.error(3, text);
    return r.drift ? 3 : 0;
  }));
