/**
 * `npm run bench:online`: plain `sqlmig up` against `sqlmig up --online` on a table of BENCH_ROWS rows
 * (default 1,000,000) with a primary key and two indexes, under a steady load from a separate client
 * (single-row UPDATEs and INSERTs in a loop, each one's latency recorded). Each case runs on a fresh
 * copy. Reports, per case and mode: the longest single write wait, the p99, the migration's total time,
 * and whether the end schemas are identical (column order aside).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { startTestServer } from '../test/support/server.js';

const bin = fileURLToPath(new URL('../bin/sqlmig', import.meta.url));
const rowsWanted = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const only = process.env['BENCH_CASES']?.split(',');
const work = mkdtempSync(join(tmpdir(), 'sqlmig-bench-online-'));

// The schema is a migration (the proof replays it on a scratch database); the rows are loaded directly.
const SCHEMA = `create table teams (id int primary key);
create table t (id bigint primary key, a int not null, b int, team int, amount int, note text);
create index t_a_idx on t (a);
create index t_b_idx on t (b);`;
const DATA = `insert into teams select g from generate_series(1, 100) g;
insert into t select g, g % 1000, g % 777, 1 + g % 100, g, 'n' || g from generate_series(1, ${rowsWanted}) g;
analyze t;`;

const CASES: Record<string, string> = {
  'int → bigint': 'alter table t alter column amount type bigint;',
  'SET NOT NULL': 'alter table t alter column b set not null;',
  'add a foreign key': 'alter table t add constraint t_team_fkey foreign key (team) references teams (id);',
  'add a unique constraint': 'alter table t add constraint t_note_key unique (note);',
  'create an index': 'create index t_team_idx on t (team);',
  'add a column, volatile default': 'alter table t add column token uuid default gen_random_uuid();',
};

/** Each stderr line of the run with the time it arrived (the online steps' progress lines say which step starts when). */
type Line = { at: number; text: string };

function cli(args: string[], lines: Line[] = []): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => {
      const at = performance.now();
      for (const text of String(d).split('\n')) if (text.trim()) lines.push({ at, text: text.trim() });
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Writes in a loop until stopped; each one's latency in ms. Writes that waited longer than SLOW_MS are kept with their start. */
const SLOW_MS = Number(process.env['BENCH_SLOW_MS'] ?? 150);
function load(url: string, slow: { at: number; ms: number }[] = []): { stop(): Promise<number[]> } {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const started = performance.now();
      if (i % 2) await sql`update t set a = a + 1 where id = ${1 + ((i * 7919) % rowsWanted)}`;
      else await sql`insert into t (id, a, b, team, amount, note) values (${rowsWanted + 10 + i}, 1, 1, 1, 1, ${`x${i}`})`;
      const ms = performance.now() - started;
      latencies.push(ms);
      if (ms > SLOW_MS) slow.push({ at: started, ms });
    }
  })();
  return { async stop() { running = false; await loop; await sql.end(); return latencies; } };
}

const server = await startTestServer();
const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
const urlOf = (name: string) => { const u = new URL(server.adminUrl); u.pathname = `/${name}`; return u.toString(); };
const results: string[][] = [];
const waits: string[] = [];
// BENCH_ONLINE_ARGS="--online-lock-timeout 200ms": extra flags for the online runs.
const extra = process.env['BENCH_ONLINE_ARGS']?.split(' ').filter(Boolean) ?? [];
try {
  await admin.unsafe('create database bench_online_template');
  const baseDir = join(work, 'base', 'sql');
  mkdirSync(baseDir, { recursive: true });
  writeFileSync(join(baseDir, '001_base.up.sql'), SCHEMA);
  const based = await cli(['up', '--dir', baseDir, '--url', urlOf('bench_online_template')]);
  if (based.code !== 0) throw new Error(based.stderr);
  const tpl = postgres(urlOf('bench_online_template'), { max: 1, onnotice: () => {} });
  await tpl.unsafe(DATA);
  await tpl.end();
  let n = 0;
  for (const [name, migration] of Object.entries(CASES)) {
    if (only && !only.some((o) => name.includes(o))) continue;
    const dir = join(work, `case${n}`, 'sql');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '001_base.up.sql'), SCHEMA);
    writeFileSync(join(dir, '002_change.up.sql'), migration);
    const schemas: string[] = [];
    for (const mode of ['plain', 'online'] as const) {
      const db = `bench_online_${n}_${mode}`;
      await admin.unsafe(`create database ${db} template bench_online_template`);
      const url = urlOf(db);
      const slow: { at: number; ms: number }[] = [];
      const lines: Line[] = [];
      const writer = load(url, slow);
      await new Promise((r) => setTimeout(r, 500));
      const r = await cli(['up', '--dir', dir, '--url', url, '--lint', 'off', ...(mode === 'online' ? ['--online', ...extra] : [])], lines);
      const latencies = (await writer.stop()).sort((a, b) => a - b);
      if (r.code !== 0) throw new Error(`${name} (${mode}) failed: ${r.stderr}`);
      const dump = await cli(['dump-schema', '--dir', dir, '--url', url]);
      schemas.push(dump.stdout.split('\n').map((l) => l.trim().replace(/,$/, '')).sort().join('\n'));
      const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
      results.push([name, mode, `${(latencies.at(-1) ?? 0).toFixed(0)} ms`, `${p99.toFixed(1)} ms`, `${(r.ms / 1000).toFixed(1)} s`, String(latencies.length), '']);
      if (mode === 'online') {
        // Which step was running when each long wait began: the last progress line before it.
        for (const w of slow) {
          const during = lines.filter((l) => l.at <= w.at).at(-1)?.text ?? '(before the first step)';
          waits.push(`${name}: ${w.ms.toFixed(0)} ms write wait during: ${during.slice(0, 160)}`);
        }
      }
      await admin.unsafe(`drop database ${db} with (force)`);
    }
    results.at(-1)![6] = schemas[0] === schemas[1] ? 'identical' : 'DIFFERENT';
    n++;
  }
} finally {
  await admin.unsafe('drop database if exists bench_online_template with (force)').catch(() => {});
  await admin.end();
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
const head = ['case', 'mode', 'longest write wait', 'p99 write', 'migration total', 'writes', 'end schemas'];
console.log(`${rowsWanted.toLocaleString('en-US')} rows\n`);
console.log(`| ${head.join(' | ')} |\n|${head.map(() => ' --- ').join('|')}|`);
for (const r of results) console.log(`| ${r.join(' | ')} |`);
if (waits.length) console.log(`\nOnline write waits over ${SLOW_MS} ms, by the step that was running:\n${waits.join('\n')}`);
