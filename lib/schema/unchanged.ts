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
 *
 * When rows were written or deleted, changesSince and deletedSince say which objects they belong to,
 * so that verify reads only those (snapshot.ts, takeScopedSnapshot). A pg_depend row belongs to its
 * depender: what a snapshot reads of dependencies (a view's source views, a sequence's owner, an
 * extension's or a partition's members) is read from the depender's side.
 */
import type { Db } from '../db/index.js';
import type { ObjectScope } from './snapshot.js';

/**
 * Every catalog a snapshot reads (queries.ts and the pg_get_*def functions it calls), by which of its
 * rows it reads: those of user objects (oid 16384 and up), and of schemas all (public is older, and a
 * migration may comment on it or rename it). Then what a row belongs to, as a scoped snapshot reads it
 * (snapshot.ts: a relation 'r', type 't', function 'f' or schema 'n', by oid; 'x': nothing it can read
 * alone), or null for a catalog whose rows print into definitions everywhere (an operator, a collation…).
 */
const USER = (key: string) => `t.${key} >= 16384`;
const rel = (oid: string) => `('r', ${oid})`;
const typ = (oid: string) => `('t', ${oid})`;
const fn = (oid: string) => `('f', ${oid})`;
const ns = (oid: string) => `('n', ${oid})`;
const cls = (name: string) => `'pg_catalog.${name}'::pg_catalog.regclass`;
/** The object a (class, oid) pair names, pg_depend's depender or what pg_description comments on: the relation a rule, default, trigger or policy is on. */
const owner = (classid: string, objid: string) => [`(case ${classid}
    when ${cls('pg_class')} then 'r' when ${cls('pg_rewrite')} then 'r' when ${cls('pg_attrdef')} then 'r' when ${cls('pg_trigger')} then 'r' when ${cls('pg_policy')} then 'r'
    when ${cls('pg_constraint')} then (select case when c.conrelid <> 0 then 'r' else 't' end from pg_catalog.pg_constraint c where c.oid = ${objid})
    when ${cls('pg_type')} then 't' when ${cls('pg_proc')} then 'f' when ${cls('pg_namespace')} then 'n' else 'x' end,
  case ${classid}
    when ${cls('pg_class')} then ${objid} when ${cls('pg_type')} then ${objid} when ${cls('pg_proc')} then ${objid} when ${cls('pg_namespace')} then ${objid}
    when ${cls('pg_rewrite')} then (select r.ev_class from pg_catalog.pg_rewrite r where r.oid = ${objid})
    when ${cls('pg_attrdef')} then (select d.adrelid from pg_catalog.pg_attrdef d where d.oid = ${objid})
    when ${cls('pg_trigger')} then (select g.tgrelid from pg_catalog.pg_trigger g where g.oid = ${objid})
    when ${cls('pg_policy')} then (select p.polrelid from pg_catalog.pg_policy p where p.oid = ${objid})
    when ${cls('pg_constraint')} then (select case when c.conrelid <> 0 then c.conrelid else c.contypid end from pg_catalog.pg_constraint c where c.oid = ${objid})
    else 0::pg_catalog.oid end)`];
const CATALOGS: [catalog: string, rows: string, roots: string[] | null][] = [
  ['pg_namespace', 'true', [ns('t.oid')]], ['pg_extension', USER('oid'), null], ['pg_class', USER('oid'), [rel('t.oid'), typ('t.reltype')]],
  ['pg_attribute', USER('attrelid'), [rel('t.attrelid')]], ['pg_attrdef', USER('oid'), [rel('t.adrelid')]],
  ['pg_type', USER('oid'), [typ('t.oid'), typ('t.typelem'), rel('t.typrelid')]], ['pg_enum', USER('oid'), [typ('t.enumtypid')]],
  ['pg_range', USER('rngtypid'), [typ('t.rngtypid')]], ['pg_collation', USER('oid'), null],
  ['pg_constraint', USER('oid'), [rel('t.conrelid'), typ('t.contypid')]], ['pg_index', USER('indexrelid'), [rel('t.indexrelid'), rel('t.indrelid')]],
  ['pg_depend', USER('objid'), owner('t.classid', 't.objid')],
  ['pg_sequence', USER('seqrelid'), [rel('t.seqrelid')]], ['pg_rewrite', USER('oid'), [rel('t.ev_class')]], ['pg_proc', USER('oid'), [fn('t.oid')]],
  ['pg_aggregate', USER('aggfnoid'), [fn('t.aggfnoid')]], ['pg_trigger', USER('oid'), [rel('t.tgrelid')]], ['pg_policy', USER('oid'), [rel('t.polrelid')]],
  ['pg_description', USER('objoid'), owner('t.classoid', 't.objoid')],
  // By index: the built-in schemas' comments among thousands of built-in objects'.
  ['pg_description', "t.objoid in (select n.oid from pg_catalog.pg_namespace n where n.oid < 16384) and t.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass", [ns('t.objoid')]],
  ['pg_inherits', USER('inhrelid'), [rel('t.inhrelid')]], ['pg_partitioned_table', USER('partrelid'), [rel('t.partrelid')]],
  ['pg_operator', USER('oid'), null], ['pg_opclass', USER('oid'), null], ['pg_opfamily', USER('oid'), null], ['pg_language', USER('oid'), null],
  ['pg_am', USER('oid'), null], ['pg_ts_config', USER('oid'), null], ['pg_ts_dict', USER('oid'), null], ['pg_cast', USER('oid'), null],
  ['pg_transform', USER('oid'), null], ['pg_tablespace', USER('oid'), null],
];

/** Where the mark's first transaction id (a txid, with its epoch) is kept for VERSIONS: a setting local to the transaction. */
const MARK = 'sqlmig.catalog_mark';
const MARK_AGE = `mark as (select pg_catalog.age(((coalesce(nullif(pg_catalog.current_setting('${MARK}', true), ''), '0')::bigint % 4294967296))::text::xid) as age)`;

/**
 * The next transaction id to be assigned, each catalog's rows (those a snapshot reads) and how many of
 * them were written by the mark's transaction or a later one (age() counts back from this transaction's
 * own id, so newer rows are younger than the mark), and the roles' names. The mark comes from a setting,
 * not a parameter: without parameters the statement keeps one plan, where a parameter would make the
 * server plan its thirty subqueries again on every call.
 */
const VERSIONS = `
with ${MARK_AGE}
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

/**
 * What changed since the mark, as objects a scoped snapshot reads: those with a row written since
 * (`written`), and, for each catalog that lost rows, which of its older rows are still there (`kept`:
 * deletedSince finds the others once the transaction is back at the mark). Only rows some transaction
 * deleted, updated or locked (xmax set) are listed: a row deleted since the mark has one, so the others
 * can be left out of the comparison.
 */
export interface Changes { written: ObjectScope; kept: Map<number, string[]> }

/**
 * 'unchanged': every catalog holds exactly the rows it held at the mark. 'unscoped': something changed
 * that a scoped snapshot cannot see alone (a role, an operator, a collation, an extension…): read all.
 */
export async function changesSince(tx: Db, session: Db, mark: CatalogMark): Promise<'unchanged' | 'unscoped' | Changes> {
  const now = await versions(tx, session, mark.next);
  const written = now.counts.map(([, n]) => Number(n));
  const deleted = now.counts.map(([rows, n], i) => mark.rows[i]! - (Number(rows) - Number(n)));
  const changed = (i: number) => written[i]! > 0 || deleted[i]! > 0;
  if (now.roles === mark.roles && !CATALOGS.some((_, i) => changed(i))) return 'unchanged';
  if (now.roles !== mark.roles || CATALOGS.some(([, , roots], i) => changed(i) && roots === null)) return 'unscoped';
  const writers = CATALOGS.flatMap((c, i) => (written[i]! > 0 ? [rootsOf(c, 'pg_catalog.age(t.xmin) <= mark.age')] : []));
  const losers = CATALOGS.flatMap(([catalog, rows], i) => (deleted[i]! > 0 ? [[i, catalog, rows] as const] : []));
  const [row] = await tx.query<{ changes: unknown }>(`with ${MARK_AGE}
select json_build_object(
  'written', (select coalesce(string_agg(distinct r.kind || ':' || coalesce(r.oid::text, ''), ','), '') from (${[NOTHING, ...writers].join('\n union all ')}) r),
  'kept', json_build_array(${losers.map(([, catalog, rows]) => `(select coalesce(string_agg(t.ctid::text, ' '), '') from pg_catalog.${catalog} t, mark
                                where ${rows} and pg_catalog.age(t.xmin) > mark.age and t.xmax::text <> '0')`).join(', ')})
) as changes`);
  const found = (typeof row!.changes === 'string' ? JSON.parse(row!.changes) : row!.changes) as { written: string; kept: string[] };
  const scope = objectScope(found.written);
  if (!scope) return 'unscoped';
  return { written: scope, kept: new Map(losers.map(([i], k) => [i, found.kept[k] ? found.kept[k]!.split(' ') : []])) };
}

/**
 * In a transaction back at the mark (rolled back to a savepoint taken there): the objects whose rows
 * the rolled-back work deleted, those with an xmax that are not among `changes.kept`. Null when one of
 * them is something a scoped snapshot cannot read alone.
 */
export async function deletedSince(tx: Db, changes: Changes): Promise<ObjectScope | null> {
  if (changes.kept.size === 0) return objectScope('');
  const parts = [...changes.kept].map(([i, ctids]) => rootsOf(CATALOGS[i]!, `t.xmax::text <> '0' and not exists (select from unnest('{${ctids.map((c) => `"${c}"`).join(',')}}'::pg_catalog.tid[]) k(c) where k.c = t.ctid)`, false));
  const [row] = await tx.query<{ deleted: string }>(`select coalesce(string_agg(distinct r.kind || ':' || coalesce(r.oid::text, ''), ','), '') as deleted from (${parts.join('\n union all ')}) r`);
  return objectScope(row!.deleted);
}

const NOTHING = 'select null::text as kind, null::oid as oid where false';

/** The objects a catalog's rows that match `which` belong to, as (kind, oid) rows. */
function rootsOf([catalog, rows, roots]: (typeof CATALOGS)[number], which: string, marked = true): string {
  return `select r.kind, r.oid from pg_catalog.${catalog} t${marked ? ', mark' : ''}, lateral (values ${roots!.join(', ')}) r(kind, oid) where ${rows} and ${which}`;
}

/** "r:16390,t:16392,…" as a scope; null when a row belongs to nothing a scoped snapshot reads (kind x, or no oid). */
function objectScope(list: string): ObjectScope | null {
  const scope: ObjectScope = { relations: [], types: [], functions: [], namespaces: [] };
  const into: Record<string, string[]> = { r: scope.relations, t: scope.types, f: scope.functions, n: scope.namespaces };
  for (const item of list ? list.split(',') : []) {
    const [kind, oid] = item.split(':');
    if (oid === '0' && kind !== 'x') continue; // no such object: a table's type, a type's relation, a constraint's table
    if (!oid || !into[kind!]) return null;
    into[kind!]!.push(oid);
  }
  return scope;
}

/** Both scopes' objects. */
export function unionScope(a: ObjectScope, b: ObjectScope): ObjectScope {
  const both = (x: string[], y: string[]) => [...new Set([...x, ...y])];
  return { relations: both(a.relations, b.relations), types: both(a.types, b.types), functions: both(a.functions, b.functions), namespaces: both(a.namespaces, b.namespaces) };
}

/** SQLMIG_VERIFY_CACHE=off turns the shortcut off, with verify's other caches: to compare against. */
export function shortcutEnabled(): boolean {
  return process.env['SQLMIG_VERIFY_CACHE'] !== 'off';
}
