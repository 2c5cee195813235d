import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { ConnectionFailed, UsageError } from '../errors.js';
import { acquireFolderLock, type FolderLock } from '../folderlock.js';
import { usingEmbeddedEngine } from '../wasm.js';
import { forgetTemplate, readTemplate, saveTemplate } from './pglite-template.js';
import { SESSION_RESET_SQL, StatementFailed, type ConnectOptions, type Db } from './index.js';

/** Remembered next to the data so a reopened folder loads what its migrations installed. */
const EXTENSIONS_FILE = 'sqlmig-extensions.json';
/** Loaded by PGlite itself or built in. */
const BUILT_IN = new Set(['plpgsql']);

export interface PgliteOptions extends ConnectOptions {
  lockTimeoutMs: number;
}

export async function connectPglite(path: string | null, options: PgliteOptions): Promise<Db> {
  let lock: FolderLock | null = null;
  if (path) {
    lock = await acquireFolderLock(path, options.lockTimeoutMs);
  }
  try {
    const isNew = path === null || !existsSync(join(path, 'PG_VERSION'));
    if (path) await mkdir(path, { recursive: true });
    const wanted = new Set([...(options.extensions ?? []), ...(path ? await rememberedExtensions(path) : [])]);
    const template = isNew ? readTemplate() : undefined;
    if (isNew && path && !template) options.onNotice?.(`creating the embedded database in ${path} (first run only, takes a few seconds)…`);
    const engine = { pg: await openPglite(path, wanted, isNew ? { template } : null), loaded: wanted };
    const session = wrap(() => engine.pg, path ? `pglite:${path}` : 'pglite:memory', `${SESSION_RESET_SQL} ${settingsSql(options)}`.trim(), async () => {
      if (path) await rememberExtensions(engine.pg, path);
      await engine.pg.close();
      await lock?.release();
    });
    session.pglite = () => engine.pg;
    session.ensureExtensions = async (names) => {
      const missing = names.filter((n) => !engine.loaded.has(n) && !BUILT_IN.has(n));
      if (missing.length === 0) return;
      await loadExtensions(missing); // fail on an unknown one before closing anything
      const loaded = new Set([...engine.loaded, ...missing]);
      if (path) {
        await engine.pg.close();
        engine.pg = await openPglite(path, loaded);
      } else {
        throw new UsageError(`pglite:memory cannot load extension(s) ${missing.join(', ')} after it was created; use a folder (pglite:./.sqlmig/dev)`);
      }
      engine.loaded = loaded;
      await applySessionSettings(session, options);
    };
    await applySessionSettings(session, options);
    return session;
  } catch (error) {
    await lock?.release();
    throw error;
  }
}

/**
 * Open a folder or memory database. A new one (`creating` given) starts from the cached empty template
 * when there is one; one created from scratch becomes the template for the next.
 */
async function openPglite(path: string | null, extensionNames: Set<string>, creating: { template?: Blob } | null = null): Promise<PGlite> {
  usingEmbeddedEngine();
  const { PGlite } = await import('@electric-sql/pglite');
  const extensions = await loadExtensions(extensionNames);
  try {
    if (creating?.template) {
      try {
        const pg = new PGlite(path ?? 'memory://', { extensions: extensions as never, loadDataDir: creating.template });
        await pg.waitReady;
        return pg;
      } catch {
        await forgetTemplate(); // a bad cache must not stop anything: start from scratch instead
        if (path) await rm(path, { recursive: true, force: true }).then(() => mkdir(path, { recursive: true }));
      }
    }
    const pg = new PGlite(path ?? 'memory://', { extensions: extensions as never });
    await pg.waitReady;
    if (creating) await saveTemplate(pg);
    return pg;
  } catch (error) {
    throw new ConnectionFailed(`cannot open the embedded database ${path ? `pglite:${path}` : 'pglite:memory'}: ${(error as Error).message}`, { cause: error });
  }
}

/** PGlite needs contrib extensions handed to its constructor before CREATE EXTENSION can work. */
export async function loadExtensions(names: Iterable<string>): Promise<Record<string, unknown>> {
  const extensions: Record<string, unknown> = {};
  for (const name of names) {
    if (BUILT_IN.has(name)) continue;
    extensions[name.replace(/-/g, '_')] = await importExtension(name);
  }
  return extensions;
}

async function importExtension(name: string): Promise<unknown> {
  const moduleName = name.replace(/-/g, '_');
  const candidates = name === 'vector'
    ? ['@electric-sql/pglite/vector']
    : [`@electric-sql/pglite/contrib/${moduleName}`];
  for (const specifier of candidates) {
    try {
      const mod = (await import(specifier)) as Record<string, unknown>;
      const ext = mod[moduleName] ?? mod[name] ?? mod['default'];
      if (ext) return ext;
    } catch {
      // not shipped under this name; try the next, then report
    }
  }
  throw new UsageError(`extension "${name}" is not available in embedded PGlite (it ships contrib modules such as ltree, pg_trgm, pgcrypto, citext, btree_gist, hstore, uuid_ossp); run this migration against a PostgreSQL server (--url postgres://…)`);
}

async function rememberedExtensions(path: string): Promise<string[]> {
  try {
    return JSON.parse(await readFile(join(path, EXTENSIONS_FILE), 'utf8')) as string[];
  } catch {
    return [];
  }
}

async function rememberExtensions(pg: PGlite, path: string): Promise<void> {
  const rows = await pg.query<{ extname: string }>('select extname from pg_extension order by 1');
  const names = rows.rows.map((r) => r.extname).filter((n) => !BUILT_IN.has(n));
  await writeFile(join(path, EXTENSIONS_FILE), JSON.stringify(names) + '\n');
}

function settingsSql(options: ConnectOptions): string {
  const settings: string[] = [];
  if (options.statementTimeoutMs !== undefined) settings.push(`set statement_timeout = ${options.statementTimeoutMs};`);
  if (options.ddlLockTimeoutMs !== undefined) settings.push(`set lock_timeout = ${options.ddlLockTimeoutMs};`);
  return settings.join(' ');
}

async function applySessionSettings(db: Db, options: ConnectOptions): Promise<void> {
  const sql = settingsSql(options);
  if (sql) await db.exec(sql);
}

/** PGlite's own words when a statement is stopped, so reports treat it like a server's cancel. */
function cancelled(): Error {
  return Object.assign(new Error('canceling statement due to user request'), { code: '57014' });
}

/**
 * The WASM engine runs a statement without yielding to Node's event loop, so a signal is seen only
 * between statements: yield there, and stop before the next statement once cancel() was called.
 */
function wrap(current: () => PGlite | Transaction, display: string, resetSql: string, close: () => Promise<void>, stop = { requested: false }): Db {
  const checkpoint = async (index: number) => {
    await new Promise((resolve) => setImmediate(resolve));
    if (stop.requested) throw new StatementFailed(index, cancelled());
  };
  const db: Db = {
    kind: 'pglite',
    display,
    resetSql,
    async query<T>(text: string, params: unknown[] = []) {
      return (await current().query(text, params)).rows as T[];
    },
    async exec(text) { await current().exec(text); },
    async runStatements(statements) {
      for (const [index, statement] of statements.entries()) {
        await checkpoint(index);
        try {
          await current().exec(statement);
        } catch (error) {
          throw new StatementFailed(index, error);
        }
      }
    },
    async runTransaction(statements, finish) {
      return db.transaction(async (tx) => {
        await tx.runStatements(statements);
        await checkpoint(statements.length); // a signal during the last statement still rolls the migration back
        let rows: Record<string, unknown>[] = [];
        for (const [i, q] of finish.entries()) {
          try {
            if (q.params.length) rows = await tx.query(q.sql, q.params);
            else await tx.exec(q.sql); // several statements: the simple protocol
          } catch (error) {
            throw new StatementFailed(statements.length + i, error);
          }
        }
        return rows;
      });
    },
    async transaction(fn) {
      const pg = current();
      if (!('transaction' in pg)) throw new Error('nested transactions are not supported');
      return pg.transaction((tx) => fn(wrap(() => tx, display, resetSql, async () => {}, stop)));
    },
    // One in-process session: the advisory lock is real but only guards this process; the folder lock guards the rest.
    openLockSession: async () => ({ ...db, close: async () => {} }),
    async cancel() { stop.requested = true; },
    close,
  };
  return db;
}
