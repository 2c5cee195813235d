/** lint: findings as `file:line:col  rule-id  message` (or for CI: json, github, sarif); exit 3 when one of level error remains. */
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import type { Register } from './command.js';

export const registerLint: Register = (cli, run) => cli
  .command('lint [files..]', 'find migrations that lock busy tables or lose data (default: the pending ones; exit 3 on an error-level finding)', (y: Argv) => y
    .positional('files', { type: 'string', array: true, describe: 'lint these files instead of the pending migrations' })
    .option('all', { type: 'boolean', describe: 'lint every migration in the folder' })
    .option('trace', { type: 'boolean', describe: 'also run them on a scratch database and report the locks each statement takes and the tables it rewrites' })
    .option('scratch-url', { type: 'string', describe: '--trace: an empty database to run on (else a temporary database on the --url server, else an embedded PGlite)' })
    .option('format', { type: 'string', choices: ['text', 'json', 'github', 'sarif'], describe: 'output: text; json (as --json); github (annotations, the default when GITHUB_ACTIONS=true and stdout is not a terminal); sarif (SARIF 2.1.0 for code scanning)' })
    .option('max-warnings', { type: 'number', describe: 'also fail (exit 3) on more than N warnings' }),
  run(async (a, m, out) => {
    const { formatLint } = await import('../lint/report.js');
    const { chooseFormat, formatGithub, formatSarif } = await import('../lint/formats.js');
    const format = chooseFormat(a['format'] as string | undefined, out.json, process.env, Boolean(process.stdout.isTTY));
    if (out.json && format !== 'json') throw new UsageError(`lint: --json and --format ${format} ask for two outputs; give one`);
    const r = await m.lint({
      files: a['files'] as string[] | undefined, all: a['all'] as boolean | undefined, trace: a['trace'] as boolean | undefined,
      scratchUrl: a['scratchUrl'] as string | undefined, maxWarnings: a['maxWarnings'] as number | undefined,
    });
    const summary = { findings: r.findings, linted: r.linted.length, squawk: r.squawk, notes: r.notes };
    const text = formatLint(summary);
    if (format === 'text' || out.json) out.result(text, r);
    else if (format === 'json') out.result(JSON.stringify(r, null, 2), r);
    else out.result(format === 'github' ? formatGithub(summary) : formatSarif(r.findings), r);
    if (!r.ok && out.quiet && format === 'text') out.error(3, text);
    return r.ok ? 0 : 3;
  }));
