/**
 * The proof of a generated pair, before it is written: on the scratch database that holds the
 * migrated schema, the up files (run as `up` runs them) must give exactly the desired schema, and the
 * down files must give back the migrated one. "Exactly" is what verify and drift mean by it: the same
 * snapshot, compared the same way. Anything that does not converge is named; nothing is written.
 */
import { checksum } from '../checksum.js';
import type { Context } from '../context.js';
import type { Db } from '../db/index.js';
import { readDirectives } from '../directives.js';
import { Interrupted, Refused, SqlmigError } from '../errors.js';
import { executePlan, type PreparedStep } from '../execute.js';
import { ensureHistory } from '../history.js';
import { prepareScript } from '../script.js';
import { compareSnapshots, isNote, type SchemaDifference } from './compare.js';
import type { GeneratedFile, GeneratedMigration } from './migration-files.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from './snapshot.js';

export interface ProofExpectation {
  migrated: SchemaSnapshot;
  desired: SchemaSnapshot;
  /** The schema file as shown, for messages. */
  schemaFile: string;
}

/** Returns the notes (column order only) of the up comparison; throws Refused when either direction does not converge. */
export async function proveMigrations(ctx: Context, db: Db, migrations: GeneratedMigration[], expected: ProofExpectation): Promise<SchemaDifference[]> {
  await ensureHistory(db, ctx.table);
  const ups = await Promise.all(migrations.map((m) => step(m, 'up')));
  await run(ctx, db, ups, 'up');
  const reached = compareSnapshots(expected.desired, await takeSchemaSnapshot(db, ctx.table));
  refuseDifferences(reached, `${names(migrations, 'up')} on the migrated schema do${migrations.length === 1 ? 'es' : ''} not give ${expected.schemaFile}`);
  const downs = await Promise.all([...migrations].reverse().map((m) => step(m, 'down')));
  await run(ctx, db, downs, 'down');
  const back = compareSnapshots(expected.migrated, await takeSchemaSnapshot(db, ctx.table));
  refuseDifferences(back, `${names([...migrations].reverse(), 'down')} do${migrations.length === 1 ? 'es' : ''} not give back the schema of the migrations`);
  return reached.filter(isNote);
}

async function step(m: GeneratedMigration, direction: 'up' | 'down'): Promise<PreparedStep> {
  const file: GeneratedFile = m[direction];
  // The files must also be read back as sqlmig reads migrations: no directive it would refuse.
  const { problems } = readDirectives(file.sql, file.path);
  if (problems.length) throw new Refused(`the generated ${file.path} would be refused; nothing was written:\n${problems.join('\n')}`);
  const script = await prepareScript({ path: file.path, text: file.sql, noTransaction: file.noTransaction });
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

function refuseDifferences(differences: SchemaDifference[], what: string): void {
  const failing = differences.filter((d) => !isNote(d));
  if (failing.length === 0) return;
  throw new Refused(`the generated migration does not converge, nothing was written: ${what}:\n${failing.map((d) => `  - ${d.message}`).join('\n')}`);
}

function names(migrations: GeneratedMigration[], direction: 'up' | 'down'): string {
  return migrations.map((m) => m[direction].path).join(' then ');
}
