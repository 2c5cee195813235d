/** lint: findings as `file:line:col  rule-id  message`; exit 3 when one of level error remains. */
import type { Argv } from 'yargs';
import type { Register } from './command.js';

export const registerLint: Register = (cli, run) => cli
  .command('lint [files..]', 'find migrations that lock busy tables or lose data (default: the pending ones; exit 3 on an error-level finding)', (y: Argv) => y
    .positional('files', { type: 'string', array: true, describe: 'lint these files instead of the pending migrations' })
    .option('all', { type: 'boolean', describe: 'lint every migration in the folder' })
    .option('trace', { type: 'boolean', describe: 'also run them on a scratch database and report the locks each statement takes and the tables it rewrites' })
    .option('scratch-url', { type: 'string', describe: '--trace: an empty database to run on (else a temporary database on the --url server, else an embedded PGlite)' }),
  run(async (a, m, out) => {
    const { formatLint } = await import('../lint/report.js');
    const r = await m.lint({ files: a['files'] as string[] | undefined, all: a['all'] as boolean | undefined, trace: a['trace'] as boolean | undefined, scratchUrl: a['scratchUrl'] as string | undefined });
    const text = formatLint({ findings: r.findings, linted: r.linted.length, squawk: r.squawk, notes: r.notes });
    out.result(text, r);
    if (!r.ok && out.quiet && !out.json) out.error(3, text);
    return r.ok ? 0 : 3;
  }));
