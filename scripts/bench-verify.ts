/**
 * verify against a plain `up` on a long synthetic history (scripts/fixtures/history.ts), on a
 * PostgreSQL server and on embedded PGlite: wall time of each, the ratio, and verify's own time per
 * phase (from its --json output).
 *
 *   node --import tsx scripts/bench-verify.ts [--count 200] [--only server|pglite] [--folded-now] [--runs 3] [--bin path/to/sqlmig] [--dir migrations]
 *
 * up and verify alternate, each on a fresh database, and the medians are compared (the machine's
 * noise hits both alike). Uses SQLMIG_TEST_DATABASE_URL when set (a superuser URL), else starts a
 * throwaway server. --bin measures another build (an older commit's, say); --dir another history.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { startTestServer } from '../test/support/server.js';
import { writeSyntheticHistory } from './fixtures/history.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' }, only: { type: 'string' }, 'folded-now': { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' }, bin: { type: 'string' }, dir: { type: 'string' },
  },
});
const bin = values.bin ?? fileURLToPath(new URL('../bin/sqlmig', import.meta.url));
const runs = Number(values.runs);
const work = mkdtempSync(join(tmpdir(), 'sqlmig-bench-verify-'));
const dir = values.dir ?? join(work, 'sql');
const count = values.dir ? readdirSync(dir).filter((f) => f.endsWith('.up.sql')).length : writeSyntheticHistory(dir, { count: Number(values.count), foldedNow: values['folded-now'] });

export interface Timed { ms: number; code: number; stdout: string; stderr: string }

function run(args: string[]): Timed {
  const started = process.hrtime.bigint();
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const median = (xs: Timed[]) => [...xs].sort((a, b) => a.ms - b.ms)[Math.floor(xs.length / 2)]!;

/** up and verify alternately on fresh databases; the medians of each. */
async function measure(where: string, fresh: (what: string) => Promise<string>): Promise<void> {
  const ups: Timed[] = [];
  const verifies: Timed[] = [];
  for (let i = 0; i < runs; i++) {
    ups.push(run(['up', '--quiet', '--dir', dir, '--url', await fresh('up')]));
    verifies.push(run(['verify', '--json', '--dir', dir, '--url', await fresh('target')]));
  }
  report(where, median(ups), median(verifies));
}

function report(where: string, up: Timed, verify: Timed): void {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  if (up.code !== 0) throw new Error(`up on ${where} exited ${up.code}: ${up.stderr}`);
  let summary = `exit ${verify.code}`;
  try {
    const result = JSON.parse(verify.stdout) as { findings: { status: string }[]; phases?: Record<string, number> };
    const counts: Record<string, number> = {};
    for (const f of result.findings) counts[f.status] = (counts[f.status] ?? 0) + 1;
    summary += `, ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}`;
    if (result.phases) summary += `\n    phases: ${Object.entries(result.phases).map(([k, ms]) => `${k} ${s(ms)}`).join(', ')}`;
  } catch {
    summary += `: ${verify.stderr.trim().split('\n').slice(-3).join(' / ')}`;
  }
  process.stdout.write(`${where}: ${count} migrations: up ${s(up.ms)}, verify ${s(verify.ms)} = ${(verify.ms / up.ms).toFixed(1)}x up, medians of ${runs} (${summary})\n`);
}

const server = values.only === 'pglite' ? null : await startTestServer();
try {
  if (server) {
    const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
    const names: string[] = [];
    try {
      await measure('PostgreSQL', async (what) => {
        const name = `bench_verify_${what}`;
        names.push(name);
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.unsafe(`create database ${name}`);
        const u = new URL(server.adminUrl);
        u.pathname = `/${name}`;
        return u.toString();
      });
    } finally {
      for (const name of new Set(names)) await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end({ timeout: 1 });
    }
  }
  if (values.only !== 'server') {
    let n = 0;
    await measure('PGlite', async (what) => `pglite:${join(work, `${what}-${n++}`)}`);
  }
} finally {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
}
