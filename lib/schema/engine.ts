/**
 * The one door to the schema-diff engine, @supabase/pg-delta (pinned to an exact version: it is an
 * alpha). It reads a database's catalog into the engine's model and plans the statements that take
 * one model to another, in dependency order. Nothing else in sqlmig imports it.
 *
 * The engine talks to databases through a `pg` Pool, so an embedded PGlite is served to it over a
 * loopback socket (@electric-sql/pglite-socket) for as long as the connection is open. All of this
 * is loaded on first use: only diff pays for it.
 */
import type { Db } from '../db/index.js';
import type { HistoryTable } from '../runner/history.js';
import type { Target } from '../db/url.js';

/** A database's schema as the engine sees it. Opaque outside this module. */
export interface EngineModel {
  readonly facts: unknown;
  /** Objects of kinds the engine does not model, e.g. "text search configuration: public.english_nostop". */
  readonly unmodelled: string[];
}

export interface EngineStatement {
  sql: string;
  /** The engine says data is lost (a dropped table or column, a rebuilt enum). */
  destructive: boolean;
  /** Cannot run inside a transaction block. */
  nonTransactional: boolean;
  /** Needs a COMMIT before it (it uses something an earlier statement made, e.g. a new enum value). */
  commitBefore: boolean;
  /** Engine ids of what it creates and what it needs, e.g. "table:public.users", "index:public.users_name_idx". */
  produces: string[];
  consumes: string[];
}

export interface EnginePlan {
  statements: EngineStatement[];
  /** Function bodies may name objects made later in the plan: run it with check_function_bodies off. */
  functionBodiesOff: boolean;
}

export interface EngineConnection {
  read(): Promise<EngineModel>;
  close(): Promise<void>;
}

type PgDelta = typeof import('@supabase/pg-delta');
let engine: Promise<PgDelta> | undefined;
const loadEngine = () => (engine ??= import('@supabase/pg-delta'));

/** Run fn with the engine connected to the database `db` is open on, and always disconnect. */
export async function withEngine<T>(db: Db, target: Target, fn: (engine: EngineConnection) => Promise<T>): Promise<T> {
  const engine = await connectEngine(db, target);
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/** A pool of one connection to the database `db` is open on; for PGlite, through a loopback socket. */
async function connectEngine(db: Db, target: Target): Promise<EngineConnection> {
  const [{ extract }, { default: pg }] = await Promise.all([loadEngine(), import('pg')]);
  let socket: { stop(): Promise<void> } | null = null;
  let pool: import('pg').Pool;
  if (target.kind === 'pglite') {
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    const server = new PGLiteSocketServer({ db: db.pglite!() as import('@electric-sql/pglite').PGlite, host: '127.0.0.1', port: 0 });
    await server.start();
    socket = server;
    const [host, port] = server.getServerConn().split(':');
    pool = new pg.Pool({ host, port: Number(port), user: 'postgres', database: 'postgres', max: 1 });
  } else {
    pool = new pg.Pool({ connectionString: target.url, max: 1, application_name: 'sqlmig' });
  }
  pool.on('error', () => {}); // an idle connection that breaks is reported by the next read, not as a crash
  return {
    async read() {
      const result = await extract(pool);
      return { facts: result.factBase, unmodelled: unmodelledObjects(result.diagnostics) };
    },
    async close() {
      await pool.end().catch(() => {});
      await socket?.stop();
    },
  };
}

/** The statements that take `from` to `to`, leaving sqlmig's history table (and its own schema) out of it. */
export async function planChange(from: EngineModel, to: EngineModel, history: HistoryTable): Promise<EnginePlan> {
  const { plan, encodeId } = await loadEngine();
  type Facts = Parameters<typeof plan>[0];
  const result = plan(from.facts as Facts, to.facts as Facts, { policy: hidingHistory(history) });
  return {
    functionBodiesOff: result.preamble.some((s) => s.name === 'check_function_bodies' && s.value === 'off'),
    statements: result.actions.map((a) => ({
      sql: a.sql.trim().replace(/;$/, ''),
      destructive: a.dataLoss === 'destructive',
      nonTransactional: a.transactionality === 'nonTransactional',
      commitBefore: a.newSegmentBefore,
      produces: a.produces.map(encodeId),
      consumes: a.consumes.map(encodeId),
    })),
  };
}

function hidingHistory(history: HistoryTable) {
  const table = { any: [
    { all: [{ kind: 'table' }, { schema: history.schema }, { name: history.table }] },
    { all: [{ schema: history.schema }, { idField: { field: 'table', glob: history.table } }] },
    { target: { kind: 'table', schema: history.schema, name: history.table } }, // its privileges and comment
  ] };
  const schema = { any: [{ all: [{ kind: 'schema' }, { name: history.schema }] }, { target: { kind: 'schema', name: history.schema } }] };
  const ownSchema = history.schema === 'public' ? [] : [{ match: schema, action: 'exclude' as const }];
  return {
    id: 'sqlmig-history',
    filter: [{ match: table, action: 'exclude' as const }, ...ownSchema],
    ...(history.schema === 'public' ? {} : { assumedSchemas: [history.schema] }),
  };
}

function unmodelledObjects(diagnostics: readonly { code: string; context?: Record<string, unknown> }[]): string[] {
  return diagnostics.filter((d) => d.code === 'unmodeled_kind').map((d) => {
    const kind = String(d.context?.['kind'] ?? 'object');
    const samples = (d.context?.['samples'] as string[] | undefined) ?? [];
    const count = Number(d.context?.['count'] ?? samples.length);
    return `${kind}: ${samples.join(', ')}${count > samples.length ? `, … (${count} in all)` : ''}`;
  });
}
