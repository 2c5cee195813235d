/** The three kinds of scratch database verify can use: given (--scratch-url), temporary on the target's server, embedded. */
import { randomBytes } from 'node:crypto';
import { parseTarget } from '../config.js';
import type { Context } from '../runner/context.js';
import { openDb } from '../db/connect.js';
import { connectionKey, withDatabase } from '../db/uri.js';
import type { Db } from '../db/index.js';
import { UsageError } from '../errors.js';
import { historyExists, qualifiedName } from '../runner/history.js';
import { maskUrl, type Target } from '../db/url.js';
import { changesSince, dropClusterObjects, isEmpty, readClusterObjects, releaseRoles, unnamedNotice, type ClusterObjects } from './cluster.js';
import { emptyDatabase } from './empty.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from './snapshot.js';

export interface ScratchInfo {
  kind: 'given' | 'temporary' | 'embedded';
  /** Where it is, password masked: safe to print. */
  display: string;
}

export interface ScratchRequest {
  scratchUrl?: string;
  /** PGlite contrib extensions the migrations create: an in-memory PGlite must have them from the start. */
  extensions: string[];
  /** The migrations' SQL: a role or tablespace that appears on the server is dropped only if they name it. */
  texts: string[];
}

export interface Scratch {
  readonly info: ScratchInfo;
  /** The session to run migrations on; reset() replaces it. */
  readonly db: Db;
  /** Close the session and start again on an empty scratch database and a new session (after a failed round trip). */
  reset(): Promise<Db>;
  /** Where it is, password included: only for a second connection to it (the diff engine's), never printed. */
  readonly target: Target;
}

export interface OpenScratch extends Scratch {
  /** Remove what verify made; returns sentences about what could not be removed or was left (said on the side, never fatal). */
  dispose(): Promise<string[]>;
}

export const SCRATCH_PREFIX = 'sqlmig_verify_';

export async function givenScratch(ctx: Context, request: ScratchRequest): Promise<OpenScratch> {
  const target = scratchTarget(request.scratchUrl!);
  if (ctx.target && sameDatabase(ctx.target, target)) {
    throw new UsageError(`--scratch-url is the target database (${maskUrl(target.url)}); verify never runs migrations on the target. Give an empty database of its own.`);
  }
  const connect = () => open(ctx, target, target.kind === 'pglite' ? request.extensions : []);
  let db = await connect();
  let cluster: ClusterObjects | null = null;
  try {
    const found = describeContents(await takeSchemaSnapshot(db, ctx.table));
    if (await historyExists(db, ctx.table)) found.unshift(`history table ${qualifiedName(ctx.table)}`);
    if (found.length) {
      throw new UsageError(`--scratch-url ${db.display} is not empty (${found.slice(0, 5).join(', ')}${found.length > 5 ? ', …' : ''}); verify needs an empty database that it may fill and empty again`);
    }
    if (db.kind === 'server') cluster = await readClusterObjects(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  const reconnect = async () => {
    await db.close().catch(() => {});
    db = await connect();
    return db;
  };
  return {
    info: { kind: 'given', display: db.display },
    target,
    get db() { return db; },
    reset: async () => {
      await emptyDatabase(await reconnect(), ctx.table);
      return db;
    },
    dispose: async () => {
      try {
        const fresh = await reconnect();
        const changes = cluster ? changesSince(cluster, await readClusterObjects(fresh), request.texts) : null;
        const problems = changes ? [...unnamedNotice(changes.unnamed), ...await releaseRoles(fresh, changes.created.roles.keys())] : [];
        await emptyDatabase(fresh, ctx.table);
        if (changes) problems.push(...await dropClusterObjects(fresh, changes.created));
        return problems;
      } finally {
        await db.close();
      }
    },
  };
}

function scratchTarget(url: string): Target {
  try {
    return parseTarget(url);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(error.message.replace(/^--url/, '--scratch-url'));
    throw error;
  }
}

/** null when the role may not create databases: the caller falls back to an embedded one. */
export async function temporaryScratch(ctx: Context, url: string, texts: string[]): Promise<OpenScratch | null> {
  const admin = await open(ctx, { kind: 'server', url }, [], false);
  let cluster: ClusterObjects;
  let version: number;
  try {
    const [role] = await admin.query<{ allowed: boolean; version: number; standby: boolean; readonly: string }>(
      `select (rolcreatedb or rolsuper) as allowed, current_setting('server_version_num')::int as version,
              pg_catalog.pg_is_in_recovery() as standby, pg_catalog.current_setting('default_transaction_read_only') as readonly
         from pg_roles where rolname = current_user`,
    );
    if (role?.standby || role?.readonly === 'on') {
      const why = role.standby ? 'is a read-only standby' : 'accepts no writes (default_transaction_read_only is on)';
      ctx.options.onNotice?.(`${admin.display} ${why}, so no temporary database can be made there; using an embedded PGlite (PostgreSQL 18) as the scratch database instead (give --scratch-url to use a server)`);
      await admin.close();
      return null;
    }
    if (!role?.allowed) {
      ctx.options.onNotice?.(`the role of ${admin.display} may not create databases; using an embedded PGlite (PostgreSQL 18) as the scratch database instead (give --scratch-url to use a server)`);
      await admin.close();
      return null;
    }
    version = role.version;
    cluster = await readClusterObjects(admin);
  } catch (error) {
    await admin.close();
    throw error;
  }
  const name = `${SCRATCH_PREFIX}${randomBytes(6).toString('hex')}`;
  const connect = () => open(ctx, { kind: 'server', url: withDatabase(url, name) }, []);
  const drop = async () => {
    if (version >= 130000) await admin.exec(`drop database if exists ${name} with (force)`);
    else {
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
      await admin.exec(`drop database if exists ${name}`);
    }
  };
  let db: Db;
  try {
    await admin.exec(`create database ${name}`);
    db = await connect().catch(async (error: unknown) => { await drop(); throw error; });
  } catch (error) {
    await admin.close();
    throw error;
  }
  return {
    info: { kind: 'temporary', display: db.display },
    target: { kind: 'server', url: withDatabase(url, name) },
    get db() { return db; },
    // A new database, not an emptied one: nothing of the failed round trip can be left in it.
    reset: async () => {
      await db.close().catch(() => {});
      await drop();
      await admin.exec(`create database ${name}`);
      db = await connect();
      return db;
    },
    dispose: async () => {
      await db.close().catch(() => {});
      try {
        const { created, unnamed } = changesSince(cluster, await readClusterObjects(admin), texts);
        const problems = unnamedNotice(unnamed);
        if (!isEmpty(created)) {
          // What the roles own or were granted goes first, in the scratch database (shared objects included).
          const fresh = await connect();
          problems.push(...await releaseRoles(fresh, created.roles.keys()).finally(() => fresh.close()));
        }
        await drop();
        problems.push(...await dropClusterObjects(admin, created));
        return problems;
      } catch (error) {
        await drop().catch(() => {});
        throw error;
      } finally {
        await admin.close();
      }
    },
  };
}

export async function embeddedScratch(ctx: Context, extensions: string[]): Promise<OpenScratch> {
  const connect = () => open(ctx, { kind: 'pglite', path: null, url: 'pglite:memory' }, extensions);
  let db: Db;
  try {
    db = await connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      `no scratch database for verify: the embedded PGlite cannot be used (${reason}).\n` +
      'Give one with --scratch-url postgres://user:password@host/empty_db, or run verify with --url on a PostgreSQL server ' +
      'where the role may create databases (ALTER ROLE … CREATEDB), so that a temporary database can be created there.',
      { cause: error },
    );
  }
  return {
    info: { kind: 'embedded', display: 'pglite:memory' },
    target: { kind: 'pglite', path: null, url: 'pglite:memory' },
    get db() { return db; },
    reset: async () => {
      await db.close().catch(() => {});
      db = await connect();
      return db;
    },
    dispose: async () => {
      await db.close();
      return [];
    },
  };
}

/** `throwaway`: a scratch database itself, not the session that creates or drops one on the user's server. */
function open(ctx: Context, target: Target, extensions: string[], throwaway = true): Promise<Db> {
  return openDb(target, {
    lockTimeoutMs: ctx.lockTimeoutMs,
    statementTimeoutMs: ctx.options.statementTimeoutMs,
    ddlLockTimeoutMs: ctx.options.ddlLockTimeoutMs,
    extensions,
    onNotice: ctx.options.onNotice,
    throwaway,
  });
}

/** Same server (host and port) and same database name, or the same PGlite folder. */
export function sameDatabase(a: Target, b: Target): boolean {
  if (a.kind === 'pglite' || b.kind === 'pglite') return a.kind === 'pglite' && b.kind === 'pglite' && a.path !== null && a.path === b.path;
  return connectionKey(a.url, process.env) === connectionKey(b.url, process.env);
}

/** What a snapshot holds, by name (the public schema alone is an empty database). */
function describeContents(s: SchemaSnapshot): string[] {
  const found: string[] = [];
  for (const [group, entries] of Object.entries(s) as [string, Record<string, unknown>][]) {
    for (const key of Object.keys(entries)) {
      if (group === 'schemas' && key === 'public') continue;
      found.push(`${GROUP_WORD[group] ?? group} ${key}`);
    }
  }
  return found;
}

const GROUP_WORD: Record<string, string> = {
  schemas: 'schema', extensions: 'extension', types: 'type', sequences: 'sequence', tables: 'table', constraints: 'constraint',
  indexes: 'index', views: 'view', functions: 'function', triggers: 'trigger', policies: 'policy',
};
