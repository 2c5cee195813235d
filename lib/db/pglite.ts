import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite, PGliteOptions, Transaction } from '@electric-sql/pglite';
import { ConnectionFailed, UsageError } from '../errors.js';
import { acquireFolderLock, type FolderLock } from './folderlock.js';
import { ensureFolder, FolderUnusable } from '../folders.js';
import { preferBaselineWasmCompiler } from '../migrations/wasm.js';
import { forgetTemplate, readTemplate, saveTemplate } from './pglite-template.js';
import { PreconditionFailed, SESSION_RESET_SQL, StatementFailed, type ConnectOptions, type Db } from './index.js';
import { locateInMessage, oneMessage, type OneMessage } from './one-message.js';

/** Remembered next to the data so a reopened folder loads what its migrations installed. */
const EXTENSIONS_FILE = 'sqlmig-extensions.json';
/** Loaded by PGlite itself or built in. */
const BUILT_IN = new Set(['plpgsql']);
/**
 * PGlite zeroes PostgreSQL's whole buffer pool when it starts (the folder's default is 128 MB). Measured:
 * status 250 → 135 MB peak RSS and ~50 ms faster with 16 MB; a 285-migration history and a 1-million-row
 * data migration ran as fast with 32 MB as with 128 MB (peak RSS 370 → 280 MB).
 */
const SHARED_BUFFERS = { read: '16MB', write: '32MB' };

export interface PgliteOptions extends ConnectOptions {
  lockTimeoutMs: number;
}

export async function connectPglite(path: string | null, options: PgliteOptions): Promise<Db> {
  refuseUnsupported(options);
  let lock: FolderLock | null = null;
  if (path) {
    lock = await withUsableFolder(path, () => acquireFolderLock(path, options.lockTimeoutMs));
  }
  try {
    const isNew = path === null || !existsSync(join(path, 'PG_VERSION'));
    if (path) await withUsableFolder(path, async () => ensureFolder(path));
    // A short read touches only sqlmig's own table: contrib extensions (100–150 ms each to load) are not needed.
    const wanted = new Set(options.readOnly ? [] : [...(options.extensions ?? []), ...(path ? await rememberedExtensions(path) : [])]);
    const template = isNew ? readTemplate() : undefined;
    if (isNew && path && !template) options.onNotice?.(`creating the embedded database in ${path} (first run only, takes a few seconds)…`);
    const sharedBuffers = options.readOnly ? SHARED_BUFFERS.read : SHARED_BUFFERS.write;
    const engine = { pg: await openPglite(path, wanted, sharedBuffers, isNew ? { template } : null), loaded: wanted };
    const session = wrap(() => engine.pg, path ? `pglite:${path}` : 'pglite:memory', `${SESSION_RESET_SQL} ${settingsSql(options)}`.trim(), async () => {
      if (path && !options.readOnly) await rememberExtensions(engine.pg, path);
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
        engine.pg = await openPglite(path, loaded, sharedBuffers);
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

/** Settings a server honours and PGlite would silently ignore: refused before anything is opened. */
function refuseUnsupported(options: ConnectOptions): void {
  if (options.statementTimeoutMs !== undefined) {
    throw new UsageError('--statement-timeout: PGlite cannot interrupt a running statement; statement timeouts need a PostgreSQL server (--url postgres://…). ' +
      'Remove --statement-timeout (or "statementTimeout" in package.json) for a pglite: database.');
  }
}

/** A folder that cannot be created or written is the URL's fault: exit 2 with the fix, never a hang. */
async function withUsableFolder<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof FolderUnusable)) throw error;
    throw new UsageError(`cannot use the embedded database folder ${path}: ${error.reason}. ` +
      'Choose a folder you can write to in the pglite: URL (e.g. --url pglite:./.sqlmig/dev).', { cause: error });
  }
}

/**
 * Open a folder or memory database. A new one (`creating` given) starts from the cached empty template
 * when there is one; one created from scratch becomes the template for the next.
 */
async function openPglite(
  path: string | null, extensionNames: Set<string>, sharedBuffers: string, creating: { template?: Blob } | null = null,
): Promise<PGlite> {
  preferBaselineWasmCompiler();
  const { PGlite } = await import('@electric-sql/pglite');
  const options: PGliteOptions = {
    extensions: await loadExtensions(extensionNames) as PGliteOptions['extensions'],
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffers}`],
  };
  try {
    if (creating?.template) {
      try {
        const pg = new PGlite(path ?? 'memory://', { ...options, loadDataDir: creating.template });
        await pg.waitReady;
        return pg;
      } catch {
        await forgetTemplate(); // a bad cache must not stop anything: start from scratch instead
        if (path) await rm(path, { recursive: true, force: true }).then(() => ensureFolder(path));
      }
    }
    const pg = new PGlite(path ?? 'memory://', options);
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

/** statement_timeout is refused up front (refuseUnsupported): PGlite would accept it and never fire it. */
function settingsSql(options: ConnectOptions): string {
  return options.ddlLockTimeoutMs !== undefined ? `set lock_timeout = ${options.ddlLockTimeoutMs};` : '';
}

async function applySessionSettings(db: Db, options: ConnectOptions): Promise<void> {
  const sql = settingsSql(options);
  if (sql) await db.exec(sql);
}

/** Thrown to roll back a transaction that only ran statements again to find the failing one. */
class RolledBack extends Error {}

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
  /** Which statement of a file sent as one message failed: from the error's position, or by running them again, rolled back. */
  const failingStatement = async (message: OneMessage, statements: readonly string[], error: unknown): Promise<unknown> => {
    const located = locateInMessage(message, (error as { position?: unknown }).position);
    if (located) return new StatementFailed(located.index, Object.assign(error as object, { position: String(located.position) }));
    const replayed = await db.transaction(async (tx) => {
      await tx.runStatements(statements);
      throw new RolledBack();
    }).catch((again: unknown) => again);
    return replayed instanceof StatementFailed ? replayed : error;
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
    async runInOne(statements, finish) {
      if ('transaction' in current() || finish.some((q) => q.params.length)) throw new Error('runInOne: inside a transaction, with a finish of plain SQL');
      await checkpoint(0);
      const results = await current().exec(oneMessage('', [...statements, ...finish.map((q) => q.sql)]).text);
      return (results.at(-1)?.rows ?? []) as Record<string, unknown>[];
    },
    async runTransaction(statements, finish, options = {}) {
      // The file goes as one exec (one-message.ts): a call per statement costs PGlite more than most
      // statements. A parsed file cannot end the transaction early (TransactionOptions.parsed), so its
      // finish goes in the same exec; the SAVEPOINT is the net under the parser, as on a server.
      const whole = Boolean(options.parsed) && finish.every((q) => q.params.length === 0);
      const finishing = finish.map((q, i) => (i === 0 ? `savepoint sqlmig_finish; ${q.sql}` : q.sql));
      const message = oneMessage('', whole ? [...statements, ...finishing] : statements);
      let failed: unknown = null;
      const pg = current();
      if (!('transaction' in pg)) throw new Error('runTransaction inside a transaction');
      try {
        return await pg.transaction(async (raw) => {
          const tx = wrap(() => raw, display, resetSql, async () => {}, stop);
          await checkpoint(0);
          if (options.precondition) await tx.exec(options.precondition).catch((error: unknown) => { throw new PreconditionFailed(error); });
          const results = statements.length || whole ? await raw.exec(message.text).catch((error: unknown) => { throw (failed = error); }) : [];
          await checkpoint(statements.length); // a signal during the file still rolls the migration back
          if (whole) return (results.at(-1)?.rows ?? []) as Record<string, unknown>[];
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
      } catch (error) {
        if (error !== failed) throw error;
        if (whole && (error as { code?: string })?.code === '25P01') return []; // the file ended the transaction: no row was written
        throw await failingStatement(message, whole ? [...statements, ...finishing] : statements, error);
      }
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
