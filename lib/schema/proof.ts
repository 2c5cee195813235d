/**
 * The proof of a generated pair, before it is written: on the scratch database that holds the
 * migrated schema, the up files (run as `up` runs them) must give exactly the desired schema, and the
 * down files must give back the migrated one. "Exactly" is what verify and drift mean by it: the same
 * snapshot, compared the same way. Anything that does not converge is named; nothing is written.
 *
 * One kind of difference is not the migration's fault: PostgreSQL keeps an expression in its own
 * form, and that form does not always read back the same (`units in ('a', 'b')` on a varchar column
 * becomes `= ANY ((ARRAY[…])::text[])`, which gives `= ANY (ARRAY[(…)::text, …])` when run again).
 * Checks and defaults are judged by stored-forms.ts, the same judgement the plan was drafted with.
 * For the rest (views, index predicates…): when the engine's own statements for what is left change
 * nothing, what is left is such a form: it is a note, not a failure.
 */
import { checksum } from '../migrations/checksum.js';
import type { Context } from '../runner/context.js';
import { StatementFailed, type Db } from '../db/index.js';
import { readDirectives } from '../migrations/directives.js';
import { Interrupted, Refused, SqlmigError } from '../errors.js';
import { executePlan, type PreparedStep } from '../runner/execute.js';
import { ensureHistory } from '../runner/history.js';
import { prepareScript } from '../migrations/script.js';
import { compareSnapshots, isNote, show, type SchemaDifference } from './compare.js';
import type { SchemaState } from './diff.js';
import { planChange, type EngineConnection } from './engine.js';
import { usableStatements } from './generate.js';
import type { GeneratedFile, GeneratedMigration } from './migration-files.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from './snapshot.js';
import { storedFormNote, type StoredForms } from './stored-forms.js';

export interface ProofInput {
  migrations: GeneratedMigration[];
  migrated: SchemaState;
  desired: SchemaState;
  engine: EngineConnection;
  /** The schema file as shown, for messages. */
  schemaFile: string;
  keepPrivileges: boolean;
  /** The same judgement the plan was drafted with: a definition in another of PostgreSQL's forms is a note. */
  storedForms: StoredForms;
}

export interface ProofResult {
  /** Differences that need no migration: column order, and expressions PostgreSQL stores in its own form. */
  notes: SchemaDifference[];
  /** The engine's statements that cannot remove those forms: when they are all the up holds, there is no change. */
  residual: string[];
}

/** Apply the up files on the migrated schema; they must give the desired one. */
export async function proveUp(ctx: Context, db: Db, input: ProofInput): Promise<ProofResult> {
  await ensureHistory(db, ctx.table);
  await run(ctx, db, await Promise.all(input.migrations.map((m) => step(m, 'up'))), 'up');
  const what = `${names(input.migrations, 'up')} on the migrated schema ${verb(input.migrations)} not give ${input.schemaFile}`;
  return converge(ctx, db, input, input.desired, what, input.schemaFile);
}

/** Then the down files, newest first: they must give back the migrated schema. */
export async function proveDown(ctx: Context, db: Db, input: ProofInput): Promise<ProofResult> {
  const reversed = [...input.migrations].reverse();
  await run(ctx, db, await Promise.all(reversed.map((m) => step(m, 'down'))), 'down');
  return converge(ctx, db, input, input.migrated, `${names(reversed, 'down')} ${verb(reversed)} not give back the schema of the migrations`, 'the migrations');
}

async function converge(ctx: Context, db: Db, input: ProofInput, expected: SchemaState, what: string, writtenIn: string): Promise<ProofResult> {
  const differences = compareSnapshots(expected.snapshot, await takeSchemaSnapshot(db, ctx.table), undefined, input.storedForms);
  const failing = differences.filter((d) => !isNote(d));
  if (failing.length === 0) return { notes: differences, residual: [] };
  const residual = await storedForms(ctx, db, input, expected);
  if (residual === null) {
    throw new Refused(`the generated migration does not converge, nothing was written: ${what}:\n${failing.map((d) => `  - ${d.message}`).join('\n')}`);
  }
  const forms = failing.map((d) => ({ ...d, message: storedFormNote(`${d.objectType} ${show(d.object)}`, 'definition', writtenIn) }));
  return { notes: [...differences.filter(isNote), ...forms], residual };
}

/**
 * The engine's statements from here to `expected`, when running them changes nothing (neither the
 * snapshot nor the statements the engine then asks for): a fixed point. Otherwise null.
 */
async function storedForms(ctx: Context, db: Db, input: ProofInput, expected: SchemaState): Promise<string[] | null> {
  const statements = async (from: SchemaSnapshot) => {
    const plan = await planChange(await input.engine.read(), expected.model, ctx.table);
    return { plan, sqls: (await usableStatements(plan, from, input.keepPrivileges, input.storedForms)).map((s) => s.engine.sql) };
  };
  const before = await takeSchemaSnapshot(db, ctx.table);
  const first = await statements(before);
  if (first.sqls.length === 0) return null;
  try {
    await db.runStatements([...(first.plan.functionBodiesOff ? ['set check_function_bodies = off'] : []), ...first.sqls]);
  } catch (error) {
    if (error instanceof StatementFailed && !(error.cause instanceof SqlmigError)) return null;
    throw error;
  } finally {
    await db.exec(db.resetSql);
  }
  const after = await takeSchemaSnapshot(db, ctx.table);
  const second = await statements(after);
  const unchanged = compareSnapshots(before, after, undefined, input.storedForms).every(isNote) && second.sqls.join('\n') === first.sqls.join('\n');
  return unchanged ? first.sqls : null;
}

async function step(m: GeneratedMigration, direction: 'up' | 'down'): Promise<PreparedStep> {
  const file: GeneratedFile = m[direction];
  // The files must also be read back as sqlmig reads migrations: no directive it would refuse.
  const { problems } = readDirectives(file.sql, file.path);
  if (problems.length) throw new Refused(`the generated ${file.path} would be refused; nothing was written:\n${problems.join('\n')}`);
  const script = await prepareScript({ path: file.path, text: file.sql, noTransaction: file.noTransaction, direction });
  const version = BigInt(m.version);
  const base = { direction, version, versionText: m.version, name: m.name, script };
  if (direction === 'down') return base;
  return { ...base, record: { version, name: m.name, checksum: checksum(file.sql), upSql: file.sql, downSql: m.down.sql, durationMs: 0, transactional: script.transactional } };
}

async function run(ctx: Context, db: Db, steps: PreparedStep[], direction: 'up' | 'down'): Promise<void> {
  try {
    await executePlan(db, steps, { table: ctx.table, signal: ctx.options.signal });
  } catch (error) {
    if (error instanceof Interrupted || !(error instanceof SqlmigError) || error.exitCode !== 1) throw error;
    throw new Refused(`the generated ${direction} fails on the scratch database; nothing was written:\n${error.message}`, { cause: error });
  }
}

function names(migrations: GeneratedMigration[], direction: 'up' | 'down'): string {
  return migrations.map((m) => m[direction].path).join(' then ');
}

const verb = (migrations: unknown[]) => (migrations.length === 1 ? 'does' : 'do');
