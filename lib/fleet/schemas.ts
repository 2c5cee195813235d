/**
 * Schema per tenant: `--schemas 'tenant_*'` turns one database into one target per matching schema. Each
 * connects with `search_path` set to its schema at startup (so the reset after every migration keeps it)
 * and keeps its own history table in that schema.
 */
import { openDb } from '../db/connect.js';
import { formatConnectionUri, parseConnectionUri } from '../db/uri.js';
import { UsageError } from '../errors.js';
import { quoteIdent } from '../runner/history.js';
import { maskUrl, type Target } from '../db/url.js';
import type { FleetTarget } from './targets.js';

/** A comma-separated list of globs (`*` any run of characters, `?` one) as one anchored expression. */
export function schemaPattern(pattern: string): RegExp {
  const globs = pattern.split(',').map((g) => g.trim()).filter(Boolean);
  if (globs.length === 0) throw new UsageError('--schemas: give a pattern such as \'tenant_*\'');
  const one = (glob: string) => glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^(?:${globs.map(one).join('|')})$`);
}

export async function schemaTargets(target: Target | null, pattern: string, lockTimeoutMs: number): Promise<FleetTarget[]> {
  if (!target) throw new UsageError('--schemas needs the database that holds the schemas: give --url (or DATABASE_URL, or "url" in the config)');
  if (target.kind !== 'server') throw new UsageError(`--schemas needs a PostgreSQL server; ${target.url} is an embedded database`);
  const matcher = schemaPattern(pattern);
  const db = await openDb(target, { lockTimeoutMs, readOnly: true });
  let names: string[];
  try {
    if (db.pooled) {
      throw new UsageError(`--schemas: ${db.display} goes through a connection pooler, which cannot keep each schema's search_path for the session; ` +
        'give a URL that reaches PostgreSQL directly');
    }
    const rows = await db.query<{ name: string }>(
      `select nspname as name from pg_catalog.pg_namespace
        where nspname !~ '^pg_' and nspname <> 'information_schema' order by nspname`);
    names = rows.map((r) => r.name).filter((n) => matcher.test(n));
  } finally {
    await db.close();
  }
  if (names.length === 0) throw new UsageError(`--schemas ${pattern}: no schema of ${maskUrl(target.url)} matches`);
  return names.map((schema) => {
    const url = withSearchPath(target.url, schema);
    return { name: schema, schema, target: { kind: 'server', url }, display: `${maskUrl(target.url)} (schema ${schema})`, source: `schema ${schema}` };
  });
}

/** The URL with search_path set to exactly this schema (a startup setting; any given one is replaced). */
export function withSearchPath(url: string, schema: string): string {
  const parts = parseConnectionUri(url);
  return formatConnectionUri({ ...parts, params: [...parts.params.filter(([k]) => k !== 'search_path'), ['search_path', quoteIdent(schema)]] });
}
