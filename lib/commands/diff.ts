/**
 * diff: the next migration pair, written from the desired schema (schema.sql). Both schemas are built
 * on a scratch database (never the target), the schema engine plans the change both ways, and the
 * pair is proved there before it is written: up gives the desired schema, down gives back the
 * migrated one. Returns data; the CLI decides how it looks.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import type { PreparedStep } from '../runner/execute.js';
import { Refused, UsageError } from '../errors.js';
import { discoverMigrations, type MigrationSet } from '../migrations/files.js';
import { scriptExtensions } from '../migrations/script.js';
import { compareSnapshots, isNote } from '../schema/compare.js';
import { buildStates } from '../schema/diff.js';
import { planChange, withEngine, type EngineConnection } from '../schema/engine.js';
import { draftMigrations, type Draft } from '../schema/generate.js';
import type { GeneratedMigration } from '../schema/migration-files.js';
import { lintDraft } from '../schema/draft-lint.js';
import type { Finding } from '../lint/types.js';
import { proveDown, proveUp } from '../schema/proof.js';
import { prepareFileSteps } from '../schema/replay.js';
import { readSchemaSource, schemaExtensions, schemaStatementKinds, type SchemaSource } from '../schema/schemafile.js';
import { withScratch, type ScratchInfo } from '../schema/scratch.js';
import { judgeStoredForms } from '../schema/stored-forms.js';
import { findFromCurrent, fromCurrentNotes } from '../schema/session-defaults.js';
import { interruptedOnScratch } from '../schema/interrupted.js';
import { maskUrl } from '../db/url.js';
import { holdsPrivileges } from '../schema/statements.js';
import { describeChange, restate } from '../schema/wording.js';
import { nextVersion, slugify } from './create.js';

export interface DiffOptions {
  /** The desired schema: a .sql file or a folder of them (default ./schema.sql). */
  schemaFile?: string | undefined;
  /** Describes the migration; its slug names the files (default: the first change, e.g. "add column users.timezone"). */
  name?: string | undefined;
  /** Prove the pair and return it, but write nothing. */
  dryRun?: boolean | undefined;
  /** Only compare: `changed` says whether the migrations and the schema file disagree. Writes nothing. */
  check?: boolean | undefined;
  /** An empty database to build the schemas on (else a temporary database on the --url server, else an embedded PGlite). */
  scratchUrl?: string | undefined;
  /** `SET lock_timeout` written at the top of files that change existing objects (default '5s'; null: none). */
  lockTimeout?: string | null | undefined;
}

export interface DestructiveStatement { file: string; statement: string; reason: string }

/** A lint finding on a written file; `unsafe` ones (error level) fail on a table with rows and carry a comment in the file. */
export interface DiffFinding { file: string; line: number; col: number; rule: string; level: 'error' | 'warning'; message: string; fix: string }

export interface DiffResult {
  schemaFile: string;
  /** The migrations and the schema file disagree. */
  changed: boolean;
  /** The files were written (never on --dry-run or --check). */
  written: boolean;
  /** The pair, and its online follow-up when it builds indexes or validates constraints. */
  migrations: GeneratedMigration[];
  /** The SQL of the first pair. */
  up: string | null;
  down: string | null;
  destructive: DestructiveStatement[];
  /**
   * Statements the proof cannot vouch for because scratch tables are empty (lint's error-level findings,
   * e.g. ADD COLUMN … NOT NULL without a default on a table that exists): written with a comment, never silently.
   */
  unsafe: DiffFinding[];
  /** Every lint finding on the written files (lock_timeout aside: that is the runner's setting). */
  lint: DiffFinding[];
  /** Objects of kinds the schema engine does not model: listed, never silently skipped. */
  unmodelled: string[];
  /** What differs, in words: "column users.timezone is in schema.sql but no migration makes it". */
  differences: string[];
  /** Differences that need no migration (column order only). */
  notes: string[];
  scratch: ScratchInfo | null;
  durationMs: number;
}

const SIDES = {
  after: 'in the schema file', before: 'from the migrations',
  onlyAfter: 'is in the schema file but no migration makes it', onlyBefore: 'is made by the migrations but not in the schema file',
};

export async function diff(ctx: Context, options: DiffOptions = {}): Promise<DiffResult> {
  const started = performance.now();
  const inputs = await readInputs(ctx, options);
  const scratchUrl = options.scratchUrl ?? ctx.options.scratchUrl;
  // No database given: build on an embedded PGlite, which needs no server.
  const scratchCtx: Context = ctx.target ? ctx : { ...ctx, target: { kind: 'pglite', path: null, url: 'pglite:memory' } };
  if (!scratchUrl && scratchCtx.target!.kind === 'pglite') await refuseMissingExtensions(inputs.extensions, inputs.schema);
  const texts = [...inputs.schema.scripts.map((s) => s.text), ...inputs.files.migrations.map((m) => m.upSql)];
  const seen: { scratch: ScratchInfo | null } = { scratch: null };
  // Whatever the scratch run says when a signal stops it ("Completed: 001_m1 …") is about the scratch database, not the target.
  const interrupted = (signal: AbortSignal) => interruptedOnScratch(signal, 'diff', seen.scratch, `${untouched(ctx)}, and no migration file was written.`);
  const signal = ctx.options.signal;
  const result = await withScratch(scratchCtx, { scratchUrl, extensions: inputs.extensions, texts }, ({ db, info, target }) => {
    seen.scratch = info;
    if (signal?.aborted) throw interrupted(signal); // it came while the scratch database was being made
    return withEngine(db, target, (engine) => diffOnScratch(ctx, db, engine, inputs, options, info));
  }).catch((error: unknown) => { throw signal?.aborted ? interrupted(signal) : error; });
  if (result.changed && !options.check && !options.dryRun) {
    if (signal?.aborted) throw interrupted(signal);
    await writeMigrations(ctx.options.dir, result.migrations);
    result.written = true;
  }
  return { ...result, durationMs: Math.round(performance.now() - started) };
}

function untouched(ctx: Context): string {
  return ctx.target ? `Nothing of the database at ${maskUrl(ctx.target.url)} changed (diff never migrates it)` : 'No database was changed';
}

interface Inputs {
  schema: SchemaSource;
  files: MigrationSet;
  ups: PreparedStep[];
  extensions: string[];
}

/** Everything read and checked before a scratch database is opened: a bad file stops here. */
async function readInputs(ctx: Context, options: DiffOptions): Promise<Inputs> {
  const schema = await readSchemaSource(resolve(options.schemaFile ?? 'schema.sql'));
  const files = await migrationFiles(ctx.options.dir);
  const ups = await prepareFileSteps(ctx, files, 'diff');
  const extensions = [...new Set([...ups.flatMap((s) => scriptExtensions(s.script)), ...schemaExtensions(schema)])];
  return { schema, files, ups, extensions };
}

async function diffOnScratch(ctx: Context, db: Db, engine: EngineConnection, inputs: Inputs, options: DiffOptions, scratch: ScratchInfo): Promise<DiffResult> {
  const { schema, files } = inputs;
  const { migrated, desired } = await buildStates(ctx, db, engine, schema, inputs.ups);
  const keepPrivileges = holdsPrivileges(schemaStatementKinds(schema));
  // One judgement for the notes, the plan and the proof: the scratch holds the migrated schema now.
  const storedForms = await judgeStoredForms(db, migrated.snapshot, desired.snapshot);
  const draft = await draftMigrations({
    up: await planChange(migrated.model, desired.model, ctx.table), down: await planChange(desired.model, migrated.model, ctx.table),
    migrated: migrated.snapshot, desired: desired.snapshot, keepPrivileges, storedForms,
  });
  const differences = compareSnapshots(migrated.snapshot, desired.snapshot, undefined, storedForms);
  const result: DiffResult = {
    schemaFile: schema.display, changed: false, written: false, migrations: [], up: null, down: null, destructive: [], unsafe: [], lint: [],
    unmodelled: unmodelled(desired.model.unmodelled, migrated.model.unmodelled, schema.display),
    differences: differences.filter((d) => !isNote(d)).map((d) => restate(d, SIDES)),
    notes: [...differences.filter(isNote).map((d) => d.message), ...await sessionNotes(db, inputs, scratch)],
    scratch, durationMs: 0,
  };
  if (!draft.main && !draft.online) {
    if (result.differences.length) throw new Refused(`the schema engine finds nothing to change, yet ${schema.display} and the migrations differ; nothing was written:\n${result.differences.map((d) => `  - ${d}`).join('\n')}`);
    return result;
  }
  const slug = await slugify(options.name?.trim() || describeChange(differences));
  const versions = [nextVersion(files.migrations), nextVersion(files.migrations, 2n)];
  const linted = await lintDraft(draft, { dir: ctx.options.dir, versions, slug, schemaFile: schema.display, lockTimeout: options.lockTimeout === undefined ? '5s' : options.lockTimeout }, inputs.ups);
  const migrations = linted.migrations;
  const proof = { migrations, migrated, desired, engine, schemaFile: schema.display, keepPrivileges, storedForms };
  const up = await proveUp(ctx, db, proof);
  result.notes = unique([...result.notes, ...up.notes.map((n) => n.message)]);
  // All the up does is rewrite expressions PostgreSQL keeps in its own form: there is nothing to change.
  if (draft.upStatements.every((s) => up.residual.includes(s))) return { ...result, differences: [] };
  Object.assign(result, {
    changed: true, migrations, up: migrations[0]!.up.sql, down: migrations[0]!.down.sql, destructive: destructiveStatements(draft, migrations),
    unsafe: linted.unsafe.map(diffFinding), lint: linted.findings.map(diffFinding),
  });
  if (options.check) return result;
  const down = await proveDown(ctx, db, proof);
  result.notes = unique([...result.notes, ...down.notes.map((n) => n.message)]);
  return result;
}

const unique = (items: string[]) => [...new Set(items)];

/** What the scratch's session defaults decided (SET … FROM CURRENT): said, since the user's server may decide otherwise. */
async function sessionNotes(db: Db, inputs: Inputs, scratch: ScratchInfo): Promise<string[]> {
  const found = await findFromCurrent([...inputs.schema.scripts, ...inputs.ups.map((s) => s.script)]);
  return found.length ? fromCurrentNotes(db, found, scratch.kind === 'embedded' ? 'an embedded PGlite' : scratch.display) : [];
}

const diffFinding = (f: Finding): DiffFinding => ({ file: f.file, line: f.line, col: f.col, rule: f.rule, level: f.level, message: f.message, fix: f.recipe });

/** What the engine cannot see, and where it comes from (the schema is built first, so what it made is also seen after it). */
function unmodelled(desired: string[], migrated: string[], schemaFile: string): string[] {
  return unique([...desired.map((u) => `${u} (${schemaFile})`), ...migrated.filter((u) => !desired.includes(u)).map((u) => `${u} (migrations)`)]);
}

/** The migrations folder; a project that has none yet starts from an empty schema. */
async function migrationFiles(dir: string): Promise<MigrationSet> {
  try {
    return await discoverMigrations(dir);
  } catch (error) {
    if (error instanceof Refused && /does not exist/.test(error.message)) return { dir, migrations: [], problems: [] };
    throw error;
  }
}

/** An embedded scratch database can only have the contrib extensions PGlite ships: say which one is missing, and the way out. */
async function refuseMissingExtensions(extensions: string[], schema: SchemaSource): Promise<void> {
  if (extensions.length === 0) return;
  const { loadExtensions } = await import('../db/pglite.js');
  for (const name of extensions) {
    try {
      await loadExtensions([name]);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      const where = schemaExtensions(schema).includes(name) ? schema.display : 'a migration';
      throw new UsageError(
        `${where} creates extension "${name}", which the embedded PGlite does not have, so diff cannot build the schemas there. ` +
        'Give a PostgreSQL server for the scratch database: --scratch-url postgres://user:password@host/empty_db ' +
        '(or --url postgres://… to build on a temporary database created on that server).',
      );
    }
  }
}

function destructiveStatements(draft: Draft, migrations: GeneratedMigration[]): DestructiveStatement[] {
  const main = migrations.find((m) => !m.online);
  if (!draft.main || !main) return [];
  return (['up', 'down'] as const).flatMap((direction) => draft.main![direction].statements
    .filter((s) => s.destructive)
    .map((s) => ({ file: main[direction].path, statement: s.sql.split('\n')[0]!, reason: s.destructive! })));
}

/** All files or none: an existing file stops it before anything is written. */
async function writeMigrations(dir: string, migrations: GeneratedMigration[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files = migrations.flatMap((m) => [m.up, m.down]);
  const written: string[] = [];
  try {
    for (const f of files) {
      await writeFile(f.absolute, f.sql, { flag: 'wx' });
      written.push(f.absolute);
    }
  } catch (error) {
    await Promise.all(written.map((f) => rm(f, { force: true })));
    throw new Refused(`cannot write ${files.find((f) => !written.includes(f.absolute))!.path}: ${(error as Error).message}; nothing was written`);
  }
}
