/** verify, dump-schema. */
import type { Argv } from 'yargs';
import type { Register } from './command.js';
import { UsageError } from '../errors.js';

export const registerVerify: Register = (cli, run) => cli
  .command('verify', 'on a scratch database, apply, revert and re-apply each migration; report every down that does not restore the schema (exit 3)', (y: Argv) => y
    .option('scratch-url', { type: 'string', describe: 'an empty database to verify on (else a temporary database on the --url server, else an embedded PGlite)' })
    .option('jobs', { type: 'number', describe: 'temporary scratch databases to verify on at once (default: one per core, at most 4; the same findings as one)' })
    .option('format', { type: 'string', choices: ['text', 'junit'], describe: 'junit: JUnit XML on stdout for CI test reports, one test case per migration (progress goes to stderr)' }),
  run(async (a, m, out) => {
    const { formatVerify, formatVerifyEvent } = await import('../report/verify.js');
    const format = { verbose: out.verbose };
    const junit = a['format'] === 'junit' && !out.json;
    const progress = (line: string) => (junit ? out.info(line) : out.progress(line));
    const jobs = a['jobs'] as number | undefined;
    if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new UsageError('--jobs: expected a whole number, 1 or more');
    const r = await m.verify({ scratchUrl: a['scratchUrl'] as string | undefined, jobs, onProgress: (event) => progress(formatVerifyEvent(event, format)) });
    const text = junit ? (await import('../report/junit.js')).formatJunit(r) : formatVerify(r, format);
    out.result(text, r);
    if (!r.ok && out.quiet && !out.json && !junit) out.error(3, text);
    return r.ok ? 0 : 3;
  }))
  .command('dump-schema', 'the schema of the database as plain, stable SQL (for code review); reads it, changes nothing', (y: Argv) => y
    .option('out', { type: 'string', describe: 'write to this file instead of stdout' }),
  run(async (a, m, out) => {
    const r = await m.dumpSchema({ out: a['out'] as string | undefined });
    if (r.out) out.result(`wrote the schema (migrations up to ${r.version ?? '(none)'}) to ${r.out}`, r);
    else out.result(r.sql.replace(/\n$/, ''), r);
  }));
