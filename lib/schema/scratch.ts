/**
 * A database that verify may fill and throw away, never the target: the one given with --scratch-url
 * (it must be empty, and is emptied again afterwards); else a temporary database created on the
 * target's server and dropped afterwards, whatever happens; else an embedded PGlite in memory.
 */
import { randomBytes } from 'node:crypto';
import { parseTarget } from '../config.js';
import type { Context } from '../context.js';
import { openDb } from '../db/connect.js';
import type { Db } from '../db/index.js';
import { UsageError } from '../errors.js';
import { historyExists, qualifiedName, type HistoryTable } from '../history.js';
import { takeSchemaSnapshot, type SchemaSnapshot } from './snapshot.js';
import { maskUrl, type Target } from '../url.js';

export interface ScratchInfo {
  kind: 'given' | 'temporary' | 'embedded';
  /** Where it is, password masked: safe to print. */
  display: string;
}

export interface ScratchRequest {
  scratchUrl?: string;
  /** PGlite contrib extensions the migrations create: an in-memory PGlite must have them from the start. */
  extensions: string[];
}

/** `target`: where it is, password included: only for a second connection to it (never printed). */
interface Scratch { db: Db; info: ScratchInfo; target: Target; dispose(): Promise<void> }

export const SCRATCH_PREFIX = 'sqlmig_verify_';

/** Run fn on a scratch database and always dispose of it, also when fn throws or the run is interrupted. */
export async function withScratch<T>(ctx: Context, request: ScratchRequest, fn: (db: Db, info: ScratchInfo, target: Target) => Promise<T>): Promise<T> {
  const scratch = await openScratch(ctx, request);
  const cancel = () => { void scratch.db.cancel(); };
  ctx.options.signal?.addEventListener('abort', cancel);
  let result: T;
  try {
    result = await fn(scratch.db, scratch.info, scratch.target);
  } catch (error) {
    ctx.options.signal?.removeEventListener('abort', cancel);
    // The run's own error is the one to report; a failed clean-up is said on the side.
    await scratch.dispose().catch((e: unknown) => ctx.options.onNotice?.(`could not remove the scratch database ${scratch.info.display}: ${(e as Error).message}`));
    throw error;
  }
  ctx.options.signal?.removeEventListener('abort', cancel);
  await scratch.dispose();
  return result;
}

async function openScratch(ctx: Context, request: ScratchRequest): Promise<Scratch> {
  if (request.scratchUrl) return givenScratch(ctx, request.scratchUrl, request.extensions);
  if (!ctx.target) {
    throw new UsageError('verify needs a database: --url (a temporary database is created on that server, or an embedded one is used for pglite:) or --scratch-url postgres://…/empty_db');
  }
  if (ctx.target.kind === 'server') {
    const temporary = await temporaryScratch(ctx, ctx.target.url);
    if (temporary) return temporary;
  }
  return embeddedScratch(ctx, request.extensions);
}

async function givenScratch(ctx: Context, url: string, extensions: string[]): Promise<Scratch> {
  const target = scratchTarget(url);
  if (ctx.target && sameDatabase(ctx.target, target)) {
    throw new UsageError(`--scratch-url is the target database (${maskUrl(target.url)}); verify never runs migrations on the target. Give an empty database of its own.`);
  }
  const db = await open(ctx, target, target.kind === 'pglite' ? extensions : []);
  try {
    const before = await takeSchemaSnapshot(db, ctx.table);
    const found = describeContents(before);
    if (await historyExists(db, ctx.table)) found.unshift(`history table ${qualifiedName(ctx.table)}`);
    if (found.length) {
      throw new UsageError(`--scratch-url ${db.display} is not empty (${found.slice(0, 5).join(', ')}${found.length > 5 ? ', …' : ''}); verify needs an empty database that it may fill and empty again`);
    }
  } catch (error) {
    await db.close();
    throw error;
  }
  return {
    db,
    info: { kind: 'given', display: db.display },
    target,
    dispose: async () => {
      try {
        await emptyScratch(db, ctx.table);
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
async function temporaryScratch(ctx: Context, url: string): Promise<Scratch | null> {
  const admin = await open(ctx, { kind: 'server', url }, []);
  const [role] = await admin.query<{ allowed: boolean; version: number }>(
    `select (rolcreatedb or rolsuper) as allowed, current_setting('server_version_num')::int as version from pg_roles where rolname = current_user`,
  ).catch(async (error: unknown) => { await admin.close(); throw error; });
  if (!role?.allowed) {
    ctx.options.onNotice?.(`the role of ${admin.display} may not create databases; verifying on an embedded PGlite (PostgreSQL 18) instead (give --scratch-url to verify on a server)`);
    await admin.close();
    return null;
  }
  const name = `${SCRATCH_PREFIX}${randomBytes(6).toString('hex')}`;
  try {
    await admin.exec(`create database ${name}`);
  } catch (error) {
    await admin.close();
    throw error;
  }
  const drop = async () => {
    try {
      if (role.version >= 130000) await admin.exec(`drop database if exists ${name} with (force)`);
      else {
        await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
        await admin.exec(`drop database if exists ${name}`);
      }
    } finally {
      await admin.close();
    }
  };
  const scratchUrl = new URL(url);
  scratchUrl.pathname = `/${name}`;
  let db: Db;
  try {
    db = await open(ctx, { kind: 'server', url: scratchUrl.toString() }, []);
  } catch (error) {
    await drop();
    throw error;
  }
  return {
    db,
    info: { kind: 'temporary', display: db.display },
    target: { kind: 'server', url: scratchUrl.toString() },
    dispose: async () => {
      await db.close().catch(() => {});
      await drop();
    },
  };
}

async function embeddedScratch(ctx: Context, extensions: string[]): Promise<Scratch> {
  try {
    const target: Target = { kind: 'pglite', path: null, url: 'pglite:memory' };
    const db = await open(ctx, target, extensions);
    return { db, info: { kind: 'embedded', display: 'pglite:memory' }, target, dispose: () => db.close() };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      `no scratch database for verify: the embedded PGlite cannot be used (${reason}).\n` +
      'Give one with --scratch-url postgres://user:password@host/empty_db, or run verify with --url on a PostgreSQL server ' +
      'where the role may create databases (ALTER ROLE … CREATEDB), so that a temporary database can be created there.',
      { cause: error },
    );
  }
}

function open(ctx: Context, target: Target, extensions: string[]): Promise<Db> {
  return openDb(target, {
    lockTimeoutMs: ctx.lockTimeoutMs,
    statementTimeoutMs: ctx.options.statementTimeoutMs,
    ddlLockTimeoutMs: ctx.options.ddlLockTimeoutMs,
    extensions,
    onNotice: ctx.options.onNotice,
  });
}

/** Same server (host and port) and same database name, or the same PGlite folder. */
export function sameDatabase(a: Target, b: Target): boolean {
  if (a.kind === 'pglite' || b.kind === 'pglite') return a.kind === 'pglite' && b.kind === 'pglite' && a.path !== null && a.path === b.path;
  const key = (url: string) => {
    const u = new URL(url);
    const host = (u.searchParams.get('host') ?? u.hostname).toLowerCase().replace(/^localhost$/, '127.0.0.1');
    const port = u.searchParams.get('port') ?? (u.port || '5432');
    const database = decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username);
    return `${host}:${port}/${database}`;
  };
  return key(a.url) === key(b.url);
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

/** Drop every object a snapshot sees, and the history table: what verify created in a scratch database that was empty. */
export async function emptyScratch(db: Db, history: HistoryTable): Promise<void> {
  const s = await takeSchemaSnapshot(db, history);
  const statements = [
    ...Object.keys(s.schemas).filter((k) => k !== 'public').map((k) => `drop schema if exists ${k} cascade`),
    ...Object.keys(s.extensions).map((k) => `drop extension if exists ${k} cascade`),
    ...Object.entries(s.views).map(([k, v]) => `drop ${v.materialized ? 'materialized view' : 'view'} if exists ${k} cascade`),
    ...Object.keys(s.tables).map((k) => `drop table if exists ${k} cascade`),
    ...Object.keys(s.sequences).map((k) => `drop sequence if exists ${k} cascade`),
    ...Object.entries(s.functions).map(([k, f]) => `drop ${f.kind === 'procedure' ? 'procedure' : f.kind === 'aggregate' ? 'aggregate' : 'function'} if exists ${k} cascade`),
    ...Object.keys(s.types).map((k) => `drop type if exists ${k} cascade`),
    `drop table if exists ${qualifiedName(history)}`,
  ];
  // Schemas go first (with what is in them); IF EXISTS covers what a cascade already took.
  for (const sql of statements) await db.exec(sql);
}
