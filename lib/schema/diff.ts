/**
 * Both schemas of a diff, built on one scratch database in turn: the desired one (the schema file),
 * read; the database put back as it was (by the engine's own plan back to the pristine state); then
 * the migrated one (every migration file, run as `up` runs them), read. Each is kept twice: as the
 * snapshot that verify, drift and the proof compare, and as the engine's model that plans from.
 */
import type { Context } from '../context.js';
import type { Db } from '../db/index.js';
import type { PreparedStep } from '../execute.js';
import { emptyScratch } from './scratch.js';
import { planChange, type EngineConnection, type EngineModel } from './engine.js';
import { buildSchema, type SchemaSource } from './schemafile.js';
import { replayMigrations } from './replay.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from './snapshot.js';
import { classifyStatements } from './statements.js';

export interface SchemaState {
  snapshot: SchemaSnapshot;
  model: EngineModel;
}

export interface BuiltStates {
  migrated: SchemaState;
  desired: SchemaState;
}

export async function buildStates(ctx: Context, db: Db, engine: EngineConnection, schema: SchemaSource, migrations: readonly PreparedStep[]): Promise<BuiltStates> {
  const pristine = await engine.read();
  await buildSchema(db, schema);
  const desired = await readState(ctx, db, engine);
  await reset(ctx, db, desired.model, pristine);
  await replayMigrations(ctx, db, migrations);
  return { migrated: await readState(ctx, db, engine), desired };
}

async function readState(ctx: Context, db: Db, engine: EngineConnection): Promise<SchemaState> {
  return { snapshot: await takeSchemaSnapshot(db, ctx.table), model: await engine.read() };
}

/**
 * Back to the empty database the scratch was: the engine plans it (it sees more kinds of objects
 * than a snapshot does); roles stay, since they belong to the whole server, not to this database.
 */
async function reset(ctx: Context, db: Db, built: EngineModel, pristine: EngineModel): Promise<void> {
  const plan = await planChange(built, pristine, ctx.table);
  const kinds = await classifyStatements(plan.statements.map((s) => s.sql));
  const statements = plan.statements.filter((_, i) => kinds[i]!.kind !== 'role').map((s) => s.sql);
  if (statements.length) {
    await db.runStatements([...(plan.functionBodiesOff ? ['set check_function_bodies = off'] : []), ...statements]);
    await db.exec(db.resetSql);
  }
  if (!isEmpty(await takeSchemaSnapshot(db, ctx.table))) await emptyScratch(db, ctx.table);
}

function isEmpty(s: SchemaSnapshot): boolean {
  return Object.entries(s).every(([group, entries]) => Object.keys(entries).every((k) => group === 'schemas' && k === 'public'));
}
