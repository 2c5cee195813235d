/**
 * Both schemas of a diff, built on one scratch database in turn: the desired one (the schema file),
 * read; the database put back as it was (by the engine's own plan back to the pristine state); then
 * the migrated one (every migration file, run as `up` runs them), read. Each is kept twice: as the
 * snapshot that verify, drift and the proof compare, and as the engine's model that plans from.
 */
import type { Context } from '../runner/context.js';
import type { Db } from '../db/index.js';
import type { PreparedStep } from '../runner/execute.js';
import { emptyDatabase } from './empty.js';
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
  if (desired.model.unmodelled.length) await dropUnmodelled(db); // first: they may hold on to modelled objects
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
  if (!isEmpty(await takeSchemaSnapshot(db, ctx.table))) await emptyDatabase(db, ctx.table);
}

function isEmpty(s: SchemaSnapshot): boolean {
  return Object.entries(s).every(([group, entries]) => Object.keys(entries).every((k) => group === 'schemas' && k === 'public'));
}

/** Not created by an extension, nor part of another object. */
const own = (catalog: string, oid: string) =>
  `${oid} >= 16384 and not exists (select 1 from pg_depend d where d.classid = '${catalog}'::regclass and d.objid = ${oid} and d.deptype in ('e', 'i'))`;
const qualified = (ns: string, name: string) => `quote_ident((select nspname from pg_namespace where oid = ${ns})) || '.' || quote_ident(${name})`;

/** DROP statements for what the schema made of kinds the engine does not model, so the migrations can make them again. */
const UNMODELLED_DROPS = `
select format('drop cast if exists (%s as %s) cascade', c.castsource::regtype, c.casttarget::regtype) as sql from pg_cast c where ${own('pg_cast', 'c.oid')}
union all select format('drop operator class if exists %s using %I cascade', ${qualified('o.opcnamespace', 'o.opcname')}, a.amname) from pg_opclass o join pg_am a on a.oid = o.opcmethod where ${own('pg_opclass', 'o.oid')}
union all select format('drop operator family if exists %s using %I cascade', ${qualified('o.opfnamespace', 'o.opfname')}, a.amname) from pg_opfamily o join pg_am a on a.oid = o.opfmethod where ${own('pg_opfamily', 'o.oid')}
union all select format('drop operator if exists %s cascade', o.oid::regoperator) from pg_operator o where ${own('pg_operator', 'o.oid')}
union all select format('drop text search configuration if exists %s cascade', t.oid::regconfig) from pg_ts_config t where ${own('pg_ts_config', 't.oid')}
union all select format('drop text search dictionary if exists %s cascade', t.oid::regdictionary) from pg_ts_dict t where ${own('pg_ts_dict', 't.oid')}
union all select format('drop text search parser if exists %s cascade', ${qualified('t.prsnamespace', 't.prsname')}) from pg_ts_parser t where ${own('pg_ts_parser', 't.oid')}
union all select format('drop text search template if exists %s cascade', ${qualified('t.tmplnamespace', 't.tmplname')}) from pg_ts_template t where ${own('pg_ts_template', 't.oid')}
union all select format('drop transform if exists for %s language %I cascade', t.trftype::regtype, l.lanname) from pg_transform t join pg_language l on l.oid = t.trflang where ${own('pg_transform', 't.oid')}
union all select format('drop language if exists %I cascade', l.lanname) from pg_language l where l.lanispl and ${own('pg_language', 'l.oid')}`;

async function dropUnmodelled(db: Db): Promise<void> {
  for (const { sql } of await db.query<{ sql: string }>(UNMODELLED_DROPS)) await db.exec(sql);
}
