/**
 * `npm run bench`: speed figures as ratios measured in one run on this machine, never asserted in tests.
 * Baselines: `node -e 0` (bare Node start) and `psql` running the same files, one transaction each, in one session.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { findPgBin, startTestServer } from '../test/support/server.js';
import { writeSyntheticHistory } from './fixtures/history.js';

const bin = fileURLToPath(new URL('../bin/sqlmig', import.meta.url));
const rssHook = fileURLToPath(new URL('./rss-hook.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sqlmig-bench-'));
const runs = Number(process.env['BENCH_RUNS'] ?? 7);
const rows: [string, string, string][] = [];

function timeOnce(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): { ms: number; stderr: string } {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, cwd });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0 && r.status !== 7) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stderr: r.stderr };
}

function median(cmd: string, args: string[], n = runs, env: NodeJS.ProcessEnv = {}, cwd?: string): number {
  const times = Array.from({ length: n }, () => timeOnce(cmd, args, env, cwd).ms).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Median time and worst peak RSS (MB) of `n` runs. */
function medianWithRss(cmd: string, args: string[], n = runs): { ms: number; rssMb: number } {
  const results = Array.from({ length: n }, () => {
    const r = timeOnce(cmd, args, { NODE_OPTIONS: `--import=${rssHook}` });
    return { ms: r.ms, rssMb: Number(/sqlmig-bench-maxrss-kb (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024 };
  });
  const times = results.map((r) => r.ms).sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, rssMb: Math.max(...results.map((r) => r.rssMb)) };
}

// sqlmig runs as users run it: the bin itself (its shebang sets Node's flags), timed against bare Node.
const sqlmig = (...args: string[]) => args;
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
function row(what: string, value: string, comparison: string) {
  rows.push([what, value, comparison]);
  process.stderr.write(`  ${what}: ${value} (${comparison})\n`);
}

function writeSmallMigrations(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= count; i++) {
    const v = String(i).padStart(5, '0');
    const values = Array.from({ length: 10 }, (_, k) => `(${k + 1}, 'row ${k + 1}')`).join(', ');
    writeFileSync(join(dir, `${v}_t${i}.up.sql`), `create table t${i} (id int primary key, label text);\ncreate index t${i}_label_idx on t${i} (label);\ninsert into t${i} values ${values};\n`);
    writeFileSync(join(dir, `${v}_t${i}.down.sql`), `drop table t${i};\n`);
  }
}

function writeTrivialMigrations(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= count; i++) writeFileSync(join(dir, `${String(i).padStart(5, '0')}_m${i}.up.sql`), `select ${i};\n`);
}

const server = await startTestServer();
const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
const dbUrl = async (name: string) => {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  const url = new URL(server.adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

try {
  process.stderr.write(`benchmark: ${runs} runs per median, server ${server.how}\n`);
  const nodeStart = median(process.execPath, ['-e', '0']);
  row('node -e 0', fmt(nodeStart), 'baseline');
  const version = median(bin, sqlmig('--version'));
  row('sqlmig --version', fmt(version), `node start + ${fmt(version - nodeStart)}`);
  const help = median(bin, sqlmig('--help'));
  row('sqlmig --help (yargs loaded)', fmt(help), `node start + ${fmt(help - nodeStart)}`);

  // 1,000 small migrations: sqlmig against psql on the same files, one transaction each, one session.
  const thousand = join(work, 'thousand');
  writeSmallMigrations(thousand, 1000);
  const script = join(work, 'psql-all.sql');
  const files = Array.from({ length: 1000 }, (_, i) => join(thousand, `${String(i + 1).padStart(5, '0')}_t${i + 1}.up.sql`));
  writeFileSync(script, files.map((f) => `begin;\n\\i ${f}\ncommit;\n`).join(''));
  const psql = findPgBin('psql');
  // Alternate the two, each on a fresh database, and compare medians: the machine's noise hits both alike.
  const psqlRuns: number[] = [];
  const upRuns: { ms: number; rssMb: number }[] = [];
  const upNoLintRuns: number[] = [];
  let upUrl = '';
  for (let i = 0; i < 3; i++) {
    psqlRuns.push(timeOnce(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', script, await dbUrl('bench_psql')]).ms);
    upUrl = await dbUrl('bench_up');
    const up = timeOnce(bin, sqlmig('up', '--quiet', '--dir', thousand, '--url', upUrl), { NODE_OPTIONS: `--import=${rssHook}` });
    upRuns.push({ ms: up.ms, rssMb: Number(/sqlmig-bench-maxrss-kb (\d+)/.exec(up.stderr)?.[1] ?? 0) / 1024 });
    upNoLintRuns.push(timeOnce(bin, sqlmig('up', '--quiet', '--lint=off', '--dir', thousand, '--url', await dbUrl('bench_up_nolint'))).ms);
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const psqlMs = mid(psqlRuns);
  const upMs = mid(upRuns.map((r) => r.ms));
  row('psql: 1,000 migrations, 1 tx each', fmt(psqlMs), 'baseline (median of 3)');
  row('sqlmig up: 1,000 migrations', fmt(upMs), `${(upMs / psqlMs).toFixed(2)}x psql (median of 3); target <= 1.0x`);
  const upNoLintMs = mid(upNoLintRuns);
  row('sqlmig up --lint=off: 1,000 migrations', fmt(upNoLintMs), `the lint hook costs ${fmt(upMs - upNoLintMs)} (median of 3)`);
  row('sqlmig up: peak RSS (server URL)', `${Math.max(...upRuns.map((r) => r.rssMb)).toFixed(0)} MB`, 'target < 100 MB (worst of 3)');
  const noop = median(bin, sqlmig('up', '--quiet', '--dir', thousand, '--url', upUrl));
  row('sqlmig up: no-op, 1,000 applied', fmt(noop), `node start + ${fmt(noop - nodeStart)}`);

  await benchSerialShape();

  // status and validate: 1,000 vs 10,000 files and rows.
  for (const count of [1000, 10000]) {
    const dir = join(work, `trivial-${count}`);
    writeTrivialMigrations(dir, count);
    const url = await dbUrl(`bench_status_${count}`);
    execFileSync(bin, sqlmig('stamp', String(count), '--quiet', '--dir', dir, '--url', url));
    const status = median(bin, sqlmig('status', '--json', '--dir', dir, '--url', url), 5);
    row(`sqlmig status: ${count.toLocaleString('en')} applied`, fmt(status), `node start + ${fmt(status - nodeStart)}`);
    const validate = median(bin, sqlmig('validate', '--json', '--dir', dir, '--url', url), 5);
    row(`sqlmig validate: ${count.toLocaleString('en')} applied`, fmt(validate), `node start + ${fmt(validate - nodeStart)}`);
  }

  // A realistic 285-migration history (scripts/fixtures/history.ts: an extension, enums, views, plpgsql functions
  // and triggers, GiST/GIN indexes, materialized views, seed data):
  // applied by psql and by sqlmig, then the fixed cost of an `up` with nothing to do.
  const realistic = join(work, 'realistic');
  const realisticCount = writeSyntheticHistory(realistic, { count: 285 });
  const applied285 = await applyVsPsql(realistic, 'bench_285');
  const psql285Ms = applied285.psqlMs;
  const realisticUrl = applied285.url;
  row(`psql: ${realisticCount}-migration realistic history`, fmt(psql285Ms), 'baseline (median of 3)');
  row(`sqlmig up: ${realisticCount}-migration realistic history`, fmt(applied285.upMs), `${(applied285.upMs / psql285Ms).toFixed(2)}x psql (median of 3); target <= 1.0x`);
  const noop285 = median(bin, sqlmig('up', '--quiet', '--dir', realistic, '--url', realisticUrl));
  row(`sqlmig up: no-op, ${realisticCount} applied (server)`, fmt(noop285), `${(noop285 / nodeStart).toFixed(1)}x node -e 0, ${(noop285 / psql285Ms).toFixed(2)}x the psql apply`);

  // Embedded PGlite: status and current on an existing database (the repository's own example, as
  // `pglite:.sqlmig/dev` would hold it), then the 285-migration history.
  const fitbudDir = fileURLToPath(new URL('../sql', import.meta.url));
  const embedded = `pglite:${join(work, 'embedded-dev')}`;
  execFileSync(bin, sqlmig('up', '--quiet', '--dir', fitbudDir, '--url', embedded));
  for (const command of ['status', 'current']) {
    const r = medianWithRss(bin, sqlmig(command, '--dir', fitbudDir, '--url', embedded));
    row(`sqlmig ${command}: existing PGlite database`, `${fmt(r.ms)}, ${r.rssMb.toFixed(0)} MB`, `${(r.ms / nodeStart).toFixed(1)}x node -e 0; target < 1.2 s`);
  }
  const npx = spawnSync('npx', ['--no-install', 'sqlmig', '--version'], { encoding: 'utf8' });
  if (npx.status === 0) {
    const npxVersion = median('npx', ['--no-install', 'sqlmig', '--version']);
    const npxStatus = median('npx', ['--no-install', 'sqlmig', 'status', '--dir', fitbudDir, '--url', embedded]);
    row('npx sqlmig --version (npm\'s own start)', fmt(npxVersion), `${(npxVersion / nodeStart).toFixed(1)}x node -e 0`);
    row('npx sqlmig status: existing PGlite database', fmt(npxStatus), `${(npxStatus / nodeStart).toFixed(1)}x node -e 0; target < 1.2 s`);
  }
  const embedded285 = `pglite:${join(work, 'embedded-285')}`;
  const apply285 = timeOnce(bin, sqlmig('up', '--quiet', '--dir', realistic, '--url', embedded285), { NODE_OPTIONS: `--import=${rssHook}` });
  row(`sqlmig up: ${realisticCount}-migration realistic history, PGlite`, fmt(apply285.ms),
    `${(apply285.ms / applied285.upMs).toFixed(2)}x the server up, ${(apply285.ms / psql285Ms).toFixed(2)}x psql; peak ${(Number(/sqlmig-bench-maxrss-kb (\d+)/.exec(apply285.stderr)?.[1] ?? 0) / 1024).toFixed(0)} MB`);
  const status285 = medianWithRss(bin, sqlmig('status', '--json', '--dir', realistic, '--url', embedded285));
  row(`sqlmig status: ${realisticCount} applied, PGlite`, `${fmt(status285.ms)}, ${status285.rssMb.toFixed(0)} MB`, `${(status285.ms / nodeStart).toFixed(1)}x node -e 0`);
  const noopEmbedded = medianWithRss(bin, sqlmig('up', '--quiet', '--dir', realistic, '--url', embedded285));
  row(`sqlmig up: no-op, ${realisticCount} applied, PGlite`, `${fmt(noopEmbedded.ms)}, ${noopEmbedded.rssMb.toFixed(0)} MB`, `${(noopEmbedded.ms / nodeStart).toFixed(1)}x node -e 0`);

  // A fleet: 50 databases x 20 small migrations, one `up --targets --parallel 8` against 50 sequential runs.
  const twenty = join(work, 'twenty');
  writeSmallMigrations(twenty, 20);
  const sequentialUrls: string[] = [];
  const fleetUrls: string[] = [];
  for (let i = 0; i < 50; i++) {
    sequentialUrls.push(await dbUrl(`bench_seq_${i}`));
    fleetUrls.push(await dbUrl(`bench_fleet_${i}`));
  }
  const targets = join(work, 'fleet.txt');
  writeFileSync(targets, fleetUrls.map((u, i) => `db${i}=${u}`).join('\n') + '\n');
  const sequentialMs = sequentialUrls.reduce((total, url) => total + timeOnce(bin, sqlmig('up', '--quiet', '--dir', twenty, '--url', url)).ms, 0);
  const fleet = timeOnce(bin, sqlmig('up', '--quiet', '--dir', twenty, '--targets', targets, '--parallel', '8'), { NODE_OPTIONS: `--import=${rssHook}` });
  const fleetRss = Number(/sqlmig-bench-maxrss-kb (\d+)/.exec(fleet.stderr)?.[1] ?? 0) / 1024;
  row('50 x sqlmig up: 50 databases x 20 migrations', fmt(sequentialMs), 'baseline (one after another)');
  row('sqlmig up --targets (50) --parallel 8', fmt(fleet.ms), `${(sequentialMs / fleet.ms).toFixed(1)}x faster; peak RSS ${fleetRss.toFixed(0)} MB, one process`);
  for (let i = 0; i < 50; i++) for (const name of [`bench_seq_${i}`, `bench_fleet_${i}`]) await admin.unsafe(`drop database if exists ${name} with (force)`);

  // verify on embedded PGlite: the 10-migration example, and 100 migrations.
  const hasVerify = /sqlmig verify/.test(spawnSync(bin, sqlmig('--help'), { encoding: 'utf8' }).stdout);
  if (hasVerify) {
    const fitbud = fileURLToPath(new URL('../sql', import.meta.url));
    const ten = timeOnce(bin, sqlmig('verify', '--quiet', '--dir', fitbud, '--url', 'pglite:memory')).ms;
    row('sqlmig verify: fitbud, 10 migrations, PGlite', fmt(ten), 'target < 5 s');
    const hundredDir = join(work, 'hundred');
    writeSmallMigrations(hundredDir, 100);
    const hundred = timeOnce(bin, sqlmig('verify', '--quiet', '--dir', hundredDir, '--url', 'pglite:memory')).ms;
    row('sqlmig verify: 100 migrations, PGlite', fmt(hundred), `${(hundred / ten).toFixed(1)}x the 10-migration run`);

    await benchVerifyVsUp();
  }

  // lint: static rules over 1,000 files (no database: from a folder without config), and --trace of the fitbud example on PGlite.
  const hasLint = /sqlmig lint/.test(spawnSync(bin, sqlmig('--help'), { encoding: 'utf8' }).stdout);
  if (hasLint) {
    const lintThousand = median(bin, sqlmig('lint', '--all', '--quiet', '--dir', thousand), 5, {}, work);
    row('sqlmig lint --all: 1,000 migrations, static', fmt(lintThousand), 'target < 2 s (median of 5)');
    const fitbud = fileURLToPath(new URL('../sql', import.meta.url));
    const trace = median(bin, sqlmig('lint', '--all', '--trace', '--quiet', '--dir', fitbud), 3, {}, work);
    row('sqlmig lint --trace: fitbud, 10 migrations, PGlite', fmt(trace), 'target < 5 s (median of 3)');
    benchLintSpeed(thousand);
  }

  // diff and drift: the fitbud example with one column added to schema.sql, then 100 migrations.
  if (/sqlmig diff/.test(spawnSync(bin, sqlmig('--help'), { encoding: 'utf8' }).stdout)) await benchSchema();
} finally {
  await admin.end({ timeout: 1 });
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}

/** lint with no database, against bare Node in the same run: the fitbud sql/ (target < 0.25 s) and 1,000 migrations (target < 1 s). */
function benchLintSpeed(thousand: string): void {
  const node = median(process.execPath, ['-e', '0'], 5);
  const fitbud = fileURLToPath(new URL('../sql', import.meta.url));
  const small = median(bin, sqlmig('lint', '--all', '--quiet', '--dir', fitbud), 5, {}, work);
  row('sqlmig lint --all: fitbud sql/ (10 migrations), no database', fmt(small), `node -e 0 ${fmt(node)}; target < 250 ms (median of 5)`);
  const many = median(bin, sqlmig('lint', '--all', '--quiet', '--dir', thousand), 5, {}, work);
  row('sqlmig lint --all: 1,000 migrations, no database', fmt(many), `node -e 0 ${fmt(node)}; target < 1 s (median of 5)`);
}

/**
 * verify against one plain up of the same realistic history (tables, views over joins, plpgsql,
 * triggers, GiST on ltree, enums, materialized views), on the server and on PGlite: up and verify
 * alternate on fresh databases (the machine's noise hits both alike), medians of 3; target ≤ 5x.
 */
async function benchVerifyVsUp(): Promise<void> {
  const history = join(work, 'history');
  const count = writeSyntheticHistory(history, { count: 200 });
  const places: [string, (what: string, i: number) => Promise<string>][] = [
    ['server', (what) => dbUrl(`bench_history_${what}`)],
    ['PGlite', async (what, i) => (what === 'up' ? `pglite:${join(work, `history-db-${i}`)}` : 'pglite:memory')],
  ];
  for (const [where, url] of places) {
    const ups: number[] = [];
    const verifies: number[] = [];
    for (let i = 0; i < 3; i++) {
      ups.push(timeOnce(bin, sqlmig('up', '--quiet', '--dir', history, '--url', await url('up', i))).ms);
      verifies.push(timeOnce(bin, sqlmig('verify', '--quiet', '--dir', history, '--url', await url('target', i))).ms);
    }
    const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    const [up, verify] = [mid(ups), mid(verifies)];
    row(`sqlmig verify vs up: synthetic history (${count} migrations), ${where}`, `${(verify / up).toFixed(1)}x`, `verify ${fmt(verify)}, up ${fmt(up)}, medians of 3 alternating; target <= 5x`);
  }
}

/**
 * `up` of a folder against psql on the same files (one session, a transaction per file), each on a fresh
 * database, alternating so the machine's noise hits both alike; medians of `n`. Returns the last up's URL.
 */
async function applyVsPsql(dir: string, name: string, n = 3): Promise<{ psqlMs: number; upMs: number; url: string }> {
  const script = join(work, `psql-${name}.sql`);
  const ups = readdirSync(dir).filter((f) => f.endsWith('.up.sql')).sort(); // zero-padded: in version order
  writeFileSync(script, ups.map((f) => `begin;\n\\i ${join(dir, f)}\ncommit;\n`).join(''));
  const psql = findPgBin('psql');
  const psqlRuns: number[] = [];
  const upRuns: number[] = [];
  let url = '';
  for (let i = 0; i < n; i++) {
    psqlRuns.push(timeOnce(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', script, await dbUrl(`${name}_psql`)]).ms);
    url = await dbUrl(`${name}_up`);
    upRuns.push(timeOnce(bin, sqlmig('up', '--quiet', '--dir', dir, '--url', url)).ms);
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { psqlMs: mid(psqlRuns), upMs: mid(upRuns), url };
}

/** 500 migrations a little more like real ones: a table with a serial key, an index, ten rows. */
async function benchSerialShape(): Promise<void> {
  const dir = join(work, 'serial-500');
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= 500; i++) {
    const values = Array.from({ length: 10 }, (_, k) => `('row ${k + 1}')`).join(', ');
    writeFileSync(join(dir, `${String(i).padStart(5, '0')}_s${i}.up.sql`),
      `create table s${i} (id serial primary key, label text not null);\ncreate index s${i}_label_idx on s${i} (label);\ninsert into s${i} (label) values ${values};\n`);
  }
  const { psqlMs, upMs } = await applyVsPsql(dir, 'bench_serial');
  row('psql: 500 serial + index + 10-row migrations, 1 tx each', fmt(psqlMs), 'baseline (median of 3)');
  row('sqlmig up: 500 serial + index + 10-row migrations', fmt(upMs), `${(upMs / psqlMs).toFixed(2)}x psql (median of 3); target <= 1.0x`);
}

async function benchSchema(): Promise<void> {
  const fitbud = fileURLToPath(new URL('../sql', import.meta.url));
  const fitbudSchema = join(work, 'fitbud-schema.sql');
  writeFileSync(fitbudSchema, `${readFileSync(fileURLToPath(new URL('../schema.sql', import.meta.url)), 'utf8')}\nalter table users add column locale varchar(10);\n`);
  const hundred = join(work, 'hundred-schema');
  writeSmallMigrations(hundred, 100);
  const hundredSchema = join(work, 'hundred-schema.sql');
  const tables = Array.from({ length: 100 }, (_, i) => `create table t${i + 1} (id int primary key, label text);\ncreate index t${i + 1}_label_idx on t${i + 1} (label);\n`);
  writeFileSync(hundredSchema, `${tables.join('')}alter table t1 add column note text;\n`);
  const first: Record<string, number> = {};
  for (const [label, dir, schema] of [['fitbud, 10 migrations', fitbud, fitbudSchema], ['100 migrations', hundred, hundredSchema]] as const) {
    const server = await dbUrl('bench_diff');
    const folder = `pglite:${join(work, `drift-${label.length}`)}`;
    const cases: [string, string[], string][] = [
      ['diff --dry-run, one column added, PGlite scratch', ['diff', '--dry-run', '--schema-file', schema, '--url', 'pglite:memory'], 'target < 5 s'],
      ['diff --dry-run, one column added, server scratch', ['diff', '--dry-run', '--schema-file', schema, '--url', server], 'target < 3 s'],
      ['drift, PostgreSQL database', ['drift', '--url', server], 'target < 5 s'],
      ['drift, PGlite database', ['drift', '--url', folder], 'target < 5 s'],
    ];
    execFileSync(bin, sqlmig('up', '--quiet', '--dir', dir, '--url', server));
    execFileSync(bin, sqlmig('up', '--quiet', '--dir', dir, '--url', folder));
    for (const [what, args, target] of cases) {
      const ms = median(bin, sqlmig(...args, '--quiet', '--dir', dir), 3);
      const comparison = first[what] === undefined ? target : `${(ms / first[what]!).toFixed(1)}x the fitbud run`;
      first[what] ??= ms;
      row(`sqlmig ${what}: ${label}`, fmt(ms), comparison);
    }
  }
}

const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['what', 'measured', 'compared'][i]!.length));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(['what', 'measured', 'compared']));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
