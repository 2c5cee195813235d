/**
 * lint: which files (the pending ones; --all; or the paths given), what existed before them (earlier
 * migrations, and the live database's catalog when there is one), the findings, and with --trace the
 * locks and rewrites a run on a scratch database really shows. Returns data; the CLI prints it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { normalizeText } from '../migrations/checksum.js';
import { displayPath, takeSnapshot, withDb, type Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import { readDirectives } from '../migrations/directives.js';
import { Refused, UsageError } from '../errors.js';
import { discoverMigrations, parseFilename, type MigrationFile, type MigrationSet } from '../migrations/files.js';
import { readCatalog, type LiveCatalog } from '../lint/catalog.js';
import { emptySchema } from '../lint/known.js';
import { lintSources, type LintSource, type LintStep, type Planned } from '../lint/runner.js';
import { mergeFindings } from '../lint/merge.js';

export type { Planned } from '../lint/runner.js';
import { DEFAULT_SMALL_TABLE, type Finding } from '../lint/types.js';
import type { ScratchInfo } from '../schema/scratch.js';

export interface LintOptions {
  /** Lint these files (migration files or any SQL file) instead of the pending migrations. */
  files?: string[] | undefined;
  /** Lint every migration in the folder. */
  all?: boolean | undefined;
  /** Also run them on a scratch database and report the locks and rewrites seen. */
  trace?: boolean | undefined;
  /** The scratch database for --trace (else a temporary one on the --url server, else an embedded PGlite). */
  scratchUrl?: string | undefined;
  /** Fail (ok: false) on more than this many warnings, as eslint's --max-warnings. */
  maxWarnings?: number | undefined;
}

export interface LintResult {
  /** No error-level finding, and no more warnings than maxWarnings. */
  ok: boolean;
  scope: 'pending' | 'all' | 'files';
  /** The files linted, as printed in findings. */
  linted: string[];
  findings: Finding[];
  errors: number;
  warnings: number;
  squawk: { ran: boolean; reason?: string };
  /** --trace: where it ran. */
  scratch: ScratchInfo | null;
  notes: string[];
}


interface Scope { scope: LintResult['scope']; order: Planned[]; catalog: LiveCatalog | null; catalogIsBase: boolean; notes: string[] }

export async function lint(ctx: Context, options: LintOptions = {}): Promise<LintResult> {
  if (options.all && options.files?.length) throw new UsageError('lint: give FILES or --all, not both');
  if (options.maxWarnings !== undefined && !(Number.isInteger(options.maxWarnings) && options.maxWarnings >= 0)) {
    throw new UsageError(`lint --max-warnings: expected a whole number of warnings (0 or more), got ${options.maxWarnings}`);
  }
  const scope = options.files?.length || options.all || !live(ctx) ? await fileScope(ctx, options) : await withDb(ctx, (db) => pendingScope(ctx, db));
  const steps: LintStep[] = scope.order
    .filter((p) => p.lint || !scope.catalogIsBase)
    .map((p) => (p.lint ? { lint: p.source } : { replay: { id: p.source.id, text: p.source.text, fresh: false } }));
  const output = await lintSources({
    steps, schema: scope.catalogIsBase ? scope.catalog!.schema : emptySchema(), fresh: scope.catalogIsBase,
    lockTimeout: ctx.options.ddlLockTimeoutMs !== undefined || Boolean(scope.catalog?.lockTimeout),
    sizes: scope.catalog?.sizes ?? new Map(), squawk: true, keepStatements: options.trace,
    levels: { smallTable: ctx.options.lintSmallTable ?? DEFAULT_SMALL_TABLE },
    timeZone: scope.catalog?.timeZone ?? null, serverVersion: scope.catalog?.serverVersion ?? null,
  });
  let findings = output.findings;
  let scratch: ScratchInfo | null = null;
  if (options.trace && output.files.length) {
    const { traceScope } = await import('../lint/trace-run.js');
    const traced = await traceScope(ctx, scope.order, output.files, scope.catalog?.sizes ?? new Map(), options.scratchUrl);
    scratch = traced.scratch;
    findings = mergeFindings(output.files.map((f) => f.source.path), findings, traced.findings);
  }
  const errors = findings.filter((f) => f.level === 'error').length;
  const warnings = findings.length - errors;
  const tooManyWarnings = options.maxWarnings !== undefined && warnings > options.maxWarnings;
  if (tooManyWarnings) scope.notes.push(`${warnings} warning${warnings === 1 ? '' : 's'}, more than --max-warnings ${options.maxWarnings}: failing`);
  return {
    ok: errors === 0 && !tooManyWarnings, scope: scope.scope, linted: output.files.map((f) => f.source.path), findings, errors, warnings,
    squawk: output.squawk, scratch, notes: scope.notes,
  };
}

/** Default: what `up` would apply next, against what the database has now. */
async function pendingScope(ctx: Context, db: Db): Promise<Scope> {
  const snap = await takeSnapshot(ctx, db);
  refuseBadFiles(snap.files);
  const catalog = await readCatalog(db);
  const pending = new Set(['pending', 'out-of-order']);
  const order = snap.statuses.filter((s) => s.file && (s.state !== 'missing'))
    .map((s) => ({ source: migrationSource(ctx, s.file!), lint: pending.has(s.state) }))
    .sort((a, b) => Number(a.lint) - Number(b.lint)); // applied first, as up would run them: out-of-order ones after
  return { scope: 'pending', order, catalog, catalogIsBase: true, notes: [] };
}

/** --all, FILES, or no database given (every file). The live database, if any, gives sizes and its lock_timeout. */
async function fileScope(ctx: Context, options: LintOptions): Promise<Scope> {
  const notes: string[] = [];
  let order: Planned[];
  if (options.files?.length) {
    order = await explicitFiles(ctx, options.files);
  } else {
    const set = await discoverMigrations(ctx.options.dir);
    refuseBadFiles(set);
    order = set.migrations.map((m) => ({ source: migrationSource(ctx, m), lint: true }));
    if (!options.all) notes.push(ctx.target ? `${ctx.target.url} does not exist yet: linted all ${order.length} migrations` : `no database given: linted all ${order.length} migrations (the pending ones need --url)`);
  }
  const catalog = live(ctx) ? await withDb(ctx, (db) => readCatalog(db)) : null;
  return { scope: options.files?.length ? 'files' : 'all', order, catalog, catalogIsBase: false, notes };
}

/** Each path given, after the migrations of its folder that come before it (replayed, not linted). */
async function explicitFiles(ctx: Context, paths: string[]): Promise<Planned[]> {
  const folders = new Map<string, MigrationSet>();
  const order: Planned[] = [];
  const seen = new Set<string>();
  // Migrations of one folder in version order, so each is linted after the ones before it.
  const key = (p: string) => parseFilename(basename(p))?.version ?? null;
  const sorted = [...paths].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x === null || y === null || dirname(resolve(a)) !== dirname(resolve(b)) ? 0 : x < y ? -1 : x > y ? 1 : 0;
  });
  for (const path of sorted) {
    const file = resolve(path);
    if (seen.has(file)) continue;
    seen.add(file);
    let text: string;
    try {
      text = normalizeText(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new UsageError(`lint: cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
    const parsed = parseFilename(basename(file));
    const source: LintSource = { path, file, id: parsed ? `${parsed.versionText}_${parsed.name}` : path, text, transactional: !readDirectives(text, path).noTransaction };
    if (!parsed) {
      order.push({ source, lint: true });
      continue;
    }
    const folder = dirname(file);
    if (!folders.has(folder)) folders.set(folder, await discoverMigrations(folder).catch(() => ({ dir: folder, migrations: [], problems: [] })));
    for (const m of folders.get(folder)!.migrations) {
      const earlier = m.version < parsed.version || (parsed.direction === 'down' && m.version === parsed.version);
      const known = order.some((p) => p.source.file === join(folder, m.upFile));
      if (earlier && !known && join(folder, m.upFile) !== file) order.push({ source: { ...migrationSource(ctx, m), file: join(folder, m.upFile) }, lint: false });
    }
    order.push({ source, lint: true });
  }
  return order;
}

/** A database to read: a server, or a PGlite folder that exists (lint never creates one). */
function live(ctx: Context): boolean {
  if (!ctx.target) return false;
  return ctx.target.kind === 'server' || ctx.target.path === null || existsSync(join(ctx.target.path, 'PG_VERSION'));
}

function migrationSource(ctx: Context, m: MigrationFile): LintSource {
  return { path: displayPath(ctx, m.upFile), file: join(ctx.options.dir, m.upFile), id: m.id, text: m.upSql, transactional: !m.directives.noTransaction };
}

function refuseBadFiles(set: MigrationSet): void {
  const bad = set.problems.filter((p) => p.kind !== 'directive');
  if (bad.length) throw new Refused(`cannot lint, the migrations folder has problems:\n${bad.map((p) => p.message).join('\n')}`);
}
