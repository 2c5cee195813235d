/**
 * Precision and recall of lint on the labelled set in test/fixtures/lint:
 * `node --import tsx scripts/lint-score.ts [-v] [--trace [--url URL]]`. With --trace each case also runs
 * on a scratch database, as `lint --trace` does: a temporary database on the server of --url, else on
 * a throwaway PostgreSQL started as the tests start one; the trace is scored on its own too.
 */
import { parseTarget } from '../lib/config.js';
import type { Context } from '../lib/runner/context.js';
import { startTestServer } from '../test/support/server.js';
import { differences, runCases, runTraceCases, score, traceScore } from '../test/support/lint-cases.js';

const args = process.argv.slice(2);
const trace = args.includes('--trace');
const results = trace ? await traced(args.includes('--url') ? args[args.indexOf('--url') + 1] : undefined) : await runCases();
const s = score(results);
const pct = (x: number) => x.toFixed(2);
process.stdout.write(`${trace ? 'lint --trace: ' : ''}${results.length} cases, ${s.expected} expected findings, ${s.found} found\n`);
process.stdout.write(`rule and line: precision ${pct(s.precision)}, recall ${pct(s.recall)}\n`);
process.stdout.write(`rule, line and level: precision ${pct(s.levelPrecision)}, recall ${pct(s.levelRecall)}\n`);
if (trace) {
  const t = traceScore(results);
  process.stdout.write(`the trace alone: ${t.said} said, ${t.onLabel} at a labelled statement (precision ${pct(t.precision)}); ${t.seen} of ${t.blocking} blocking findings seen (recall ${pct(t.recall)})\n`);
}
if (args.includes('-v')) process.stdout.write(differences(results).join('\n') + '\n');

async function traced(url: string | undefined) {
  const server = url ? null : await startTestServer();
  const ctx: Context = {
    options: { dir: process.cwd() }, target: parseTarget(url ?? server!.adminUrl, '--url'),
    table: { schema: 'public', table: 'sqlmig_history' }, lockTimeoutMs: 60_000,
  };
  try {
    return await runTraceCases(ctx);
  } finally {
    await server?.stop();
  }
}
