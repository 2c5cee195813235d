/**
 * Whether a schema is exactly as it was at a mark taken earlier in the same transaction, without
 * reading it: verify's shortcut for a down that gives back the schema from before its up.
 *
 * A catalog row is never changed where it lies: ALTER, RENAME, COMMENT, DROP … write a new version
 * of it (xmin: the writing transaction) or delete it. So if no row of the catalogs a snapshot reads
 * was written since the mark (none has an xmin of the mark's transaction or later) and each catalog
 * holds as many rows as then, the rows are the very ones of the mark, and a snapshot would read the
 * same schema. The rows PostgreSQL does overwrite in place (pg_class's relpages, reltuples,
 * relallvisible, relhasindex and frozen xids, by VACUUM, ANALYZE and CREATE INDEX) are not read by a
 * snapshot. Roles are shared by the cluster and not readable row by row by every user: their names
 * (what a snapshot prints of them) are compared instead.
 *
 * Only the rows a snapshot reads are looked at: user objects' (oid 16384 and up) and every schema's.
 * Answers "changed" whenever in doubt; verify then reads the schema as before.
 */
import type { Db } from '../db/index.js';

/**
 * Every catalog a snapshot reads (queries.ts and the pg_get_*def functions it calls), by which of its
 * rows it reads: those of user objects (oid 16384 and up), and of schemas all (public is older, and a
 * migration may comment on it or rename it).
 */
const USER = (key: string) => `t.${key} >= 16384`;
const CATALOGS: [catalog: string, rows: string][] = [
  ['pg_namespace', 'true'], ['pg_extension', USER('oid')], ['pg_class', USER('oid')], ['pg_attribute', USER('attrelid')],
  ['pg_attrdef', USER('oid')], ['pg_type', USER('oid')], ['pg_enum', USER('oid')], ['pg_range', USER('rngtypid')],
  ['pg_collation', USER('oid')], ['pg_constraint', USER('oid')], ['pg_index', USER('indexrelid')], ['pg_depend', "t.classid in (select c.oid from pg_catalog.pg_class c where c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace) and t.objid >= 16384"],
  ['pg_sequence', USER('seqrelid')], ['pg_rewrite', USER('oid')], ['pg_proc', USER('oid')], ['pg_aggregate', USER('aggfnoid')],
  ['pg_trigger', USER('oid')], ['pg_policy', USER('oid')], ['pg_description', USER('objoid')],
  ['pg_description', "t.objoid < 16384 and t.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass"],
  ['pg_inherits', USER('inhrelid')], ['pg_partitioned_table', USER('partrelid')], ['pg_operator', USER('oid')],
  ['pg_opclass', USER('oid')], ['pg_opfamily', USER('oid')], ['pg_language', USER('oid')], ['pg_am', USER('oid')],
  ['pg_ts_config', USER('oid')], ['pg_ts_dict', USER('oid')], ['pg_cast', USER('oid')], ['pg_transform', USER('oid')],
  ['pg_tablespace', USER('oid')],
];

/** Where the mark's first transaction id (a txid, with its epoch) is kept for VERSIONS: a setting local to the transaction. */
const MARK = 'sqlmig.catalog_mark';

/**
 * The next transaction id to be assigned, each catalog's rows (those a snapshot reads) and how many of
 * them were written by the mark's transaction or a later one (age() counts back from this transaction's
 * own id, so newer rows are younger than the mark), and the roles' names. The mark comes from a setting,
 * not a parameter: without parameters the statement keeps one plan, where a parameter would make the
 * server plan its thirty subqueries again on every call.
 */
const VERSIONS = `
with mark as (select pg_catalog.age(((coalesce(nullif(pg_catalog.current_setting('${MARK}', true), ''), '0')::bigint % 4294967296))::text::xid) as age)
select json_build_object(
  'next', pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())::text,
  'counts', json_build_array(${CATALOGS.map(([c, rows]) => `(select json_build_array(count(*), count(*) filter (where pg_catalog.age(t.xmin) <= mark.age)) from pg_catalog.${c} t, mark where ${rows})`).join(', ')}),
  'roles', (select pg_catalog.md5(coalesce(string_agg(r.oid::text || ':' || r.rolname, ',' order by r.oid), '')) from pg_catalog.pg_roles r)
) as versions`;

const STATEMENT = 'sqlmig_catalog_versions';

/** The catalogs as they are at a point of a transaction. */
export interface CatalogMark {
  /** The first transaction id assigned after the mark. */
  next: string;
  rows: number[];
  roles: string;
  /** pg_class's user rows (tables, indexes, views, sequences…): how big the schema is. */
  relations: number;
}

/** counts: per catalog, its rows and how many of them were written since the mark. */
interface Versions { next: string; counts: [number, number][]; roles: string }

/** Sessions on which the statement is prepared. */
const prepared = new WeakSet<Db>();

/** `since`: the mark to count written rows from (null: none, at the mark itself). */
async function versions(tx: Db, session: Db, since: string | null): Promise<Versions> {
  if (!prepared.has(session)) {
    const [found] = await tx.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements where name = $1', [STATEMENT]);
    if (!found?.n) await tx.exec(`prepare ${STATEMENT} as ${VERSIONS}`);
    prepared.add(session);
  }
  if (since !== null) await tx.exec(`select pg_catalog.set_config('${MARK}', '${BigInt(since)}', true)`);
  const [row] = await tx.query<{ versions: unknown }>(`execute ${STATEMENT}`);
  const value = row!.versions;
  return (typeof value === 'string' ? JSON.parse(value) : value) as Versions;
}

/** Mark the catalogs as they are now, in a transaction on `session` that has written nothing yet. */
export async function markCatalogs(tx: Db, session: Db): Promise<CatalogMark> {
  const v = await versions(tx, session, null);
  const rows = v.counts.map(([n]) => Number(n));
  return { next: v.next, rows, roles: v.roles, relations: rows[CATALOGS.findIndex(([c]) => c === 'pg_class')]! };
}

/** True only when every catalog a snapshot reads holds exactly the rows it held at the mark. */
export async function unchangedSince(tx: Db, session: Db, mark: CatalogMark): Promise<boolean> {
  const now = await versions(tx, session, mark.next);
  return now.roles === mark.roles && now.counts.every(([rows, written], i) => Number(written) === 0 && Number(rows) === mark.rows[i]);
}

/** SQLMIG_VERIFY_CACHE=off turns the shortcut off, with verify's other caches: to compare against. */
export function shortcutEnabled(): boolean {
  return process.env['SQLMIG_VERIFY_CACHE'] !== 'off';
}
