/**
 * The catalog query behind a schema snapshot: one statement, prepared once per session, that returns
 * every section as JSON in one round trip. It runs with an empty search_path (as pg_dump does), so
 * every name outside pg_catalog comes back schema-qualified, and uses only catalog columns that
 * PostgreSQL 12+ and PGlite (PostgreSQL 18) share. Keys are built with quote_ident, so they are valid
 * SQL names and stable identities at once. Every section excludes system schemas, objects that belong
 * to an extension, and the history table (parameter $1: its qualified name).
 */

const qname = (ns: string, name: string) => `quote_ident(${ns}.nspname) || '.' || quote_ident(${name})`;

/**
 * Which version of a catalog row this is: the transaction that wrote it (xmin) and where it lies (ctid).
 * xmin alone is the same for every version one transaction writes (verify's down and up again run in
 * one): a view dropped, created and replaced there kept its stamp and its old text. A version keeps
 * its place while the transaction that replaced it could still be rolled back, so the pair is never
 * worn by two versions.
 */
const version = (row: string) => `${row}.xmin || '/' || ${row}.ctid`;

/** A user schema: not pg_catalog, pg_toast, pg_temp_N, information_schema (decided once per snapshot, in the CTE "user_namespace"). */
const userSchema = (ns: string) => `${ns}.oid in (select oid from user_namespace)`;
const USER_NAMESPACE = `select oid from pg_namespace where nspname !~ '^pg_' and nspname <> 'information_schema'`;

/** Not created by CREATE EXTENSION (the members are read once, in the CTE "extension_member"). */
const notFromExtension = (catalog: string, oid: string) =>
  `${oid} not in (select objid from extension_member where classid = '${catalog}'::regclass)`;

/**
 * Created after initdb: PostgreSQL gives every object created later an oid of at least 16384
 * (FirstNormalObjectId; the counter wraps back to it, never below). The catalogs' oid indexes then skip
 * the thousands of built-in rows that would otherwise be read and filtered out on every snapshot.
 */
const userOid = (oid: string) => `${oid} >= 16384`;

/** A relation that is not the history table and not part of an extension. */
const ownRelation = (c: string, ns: string) => `${userOid(`${c}.oid`)} and ${userSchema(ns)} and ${c}.oid <> (select oid from history) and ${notFromExtension('pg_class', `${c}.oid`)}`;

/** COMMENT ON text, by index lookup (obj_description() is an SQL function call per row, several times slower). */
const description = (catalog: string, oid: string, sub = '0') =>
  `(select d.description from pg_description d where d.objoid = ${oid} and d.classoid = '${catalog}'::regclass and d.objsubid = ${sub})`;

const collationName = (co: string, cn: string) =>
  `case when ${cn}.nspname = 'pg_catalog' then quote_ident(${co}.collname) else quote_ident(${cn}.nspname) || '.' || quote_ident(${co}.collname) end`;

/**
 * Which objects a section reads. A snapshot reads all of them, with definitions as stamps
 * (definitions.ts). A scoped snapshot reads only the relations, types, functions and schemas given ($2
 * to $5, oid arrays) and prints their definitions in place: verify's round trip compares only what a
 * migration's up or down wrote or deleted (unchanged.ts says which).
 */
interface Scope {
  scoped: boolean;
  relation(oid: string): string;
  type(oid: string): string;
  func(oid: string): string;
  namespace(oid: string): string;
}

const EVERYTHING: Scope = { scoped: false, relation: () => 'true', type: () => 'true', func: () => 'true', namespace: () => 'true' };
const GIVEN: Scope = {
  scoped: true,
  relation: (oid) => `${oid} = any($2::oid[])`,
  type: (oid) => `${oid} = any($3::oid[])`,
  func: (oid) => `${oid} = any($4::oid[])`,
  namespace: (oid) => `${oid} = any($5::oid[])`,
};

/** A definition: its stamp (filled in from definitions.ts) in a snapshot, printed in a scoped one. */
const printed = (s: Scope, stamp: string, stampAs: string, definition: string, definitionAs: string) =>
  s.scoped ? `${definition} as ${definitionAs}` : `${stamp} as ${stampAs}`;

const schemas = (s: Scope) => `
select n.nspname::text as name, quote_ident(n.nspname) as key, ${description('pg_namespace', 'n.oid')} as comment
  from pg_namespace n
 where ${userSchema('n')} and ${notFromExtension('pg_namespace', 'n.oid')} and ${s.namespace('n.oid')}`;

const extensions = (s: Scope) => `
select e.extname::text as name, quote_ident(e.extname) as key, n.nspname::text as schema, e.extversion as version
  from pg_extension e join pg_namespace n on n.oid = e.extnamespace
 where e.extname <> 'plpgsql' and ${!s.scoped}`;

const tables = (s: Scope) => `
select ${qname('n', 'c.relname')} as key, n.nspname::text as schema, c.relname::text as name,
       c.relkind::text as relkind, c.relpersistence = 'u' as unlogged,
       c.relrowsecurity as row_security, c.relforcerowsecurity as force_row_security,
       case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as partition_key,
       case when c.relispartition then pg_get_expr(c.relpartbound, c.oid) end as partition_bound,
       array(select ${qname('pn', 'p.relname')} from pg_inherits i join pg_class p on p.oid = i.inhparent
               join pg_namespace pn on pn.oid = p.relnamespace where i.inhrelid = c.oid order by i.inhseqno) as parents,
       coalesce(c.reloptions, '{}')::text[] as options,
       ${description('pg_class', 'c.oid')} as comment
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p') and ${ownRelation('c', 'n')} and ${s.relation('c.oid')}`;

const columns = (s: Scope) => `
select ${qname('n', 'c.relname')} as table_key, a.attname::text as name, a.attnum::int as num,
       format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null, a.attislocal as local,
       ${printed(s, `'d' || d.oid || ':' || ${version('d')}`, 'expression_stamp', 'pg_get_expr(d.adbin, d.adrelid)', 'expression')}, d.oid::text as expression_oid,
       nullif(a.attidentity::text, '') as identity,
       nullif(a.attgenerated::text, '') as generated,
       case when a.attcollation <> t.typcollation then ${collationName('co', 'cn')} end as collation,
       ${description('pg_class', 'c.oid', 'a.attnum')} as comment
  from pg_attribute a
  join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
  join pg_type t on t.oid = a.atttypid
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  left join pg_collation co on co.oid = a.attcollation left join pg_namespace cn on cn.oid = co.collnamespace
 where ${userOid('a.attrelid')} and a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p') and ${ownRelation('c', 'n')} and ${s.relation('a.attrelid')}
 order by a.attrelid, a.attnum`;

const constraints = (s: Scope) => `
select ${qname('n', 'c.relname')} as table_key, ${qname('n', 'c.relname')} || '.' || quote_ident(co.conname) as key, co.conname::text as name, co.contype::text as type,
       ${printed(s, `'c' || co.oid || ':' || ${version('co')}`, 'stamp', 'pg_get_constraintdef(co.oid)', 'definition')}, co.oid::text as oid, ${description('pg_constraint', 'co.oid')} as comment
  from pg_constraint co join pg_class c on c.oid = co.conrelid join pg_namespace n on n.oid = c.relnamespace
 where ${userOid('co.oid')} and co.contype in ('p', 'u', 'f', 'c', 'x') and co.conislocal and co.conparentid = 0 and ${ownRelation('c', 'n')} and ${s.relation('co.conrelid')}`;

const indexes = (s: Scope) => `
select ${qname('n', 'ic.relname')} as key, n.nspname::text as schema, ic.relname::text as name,
       ${qname('tn', 'tc.relname')} as table_key, ${printed(s, `'i' || i.indexrelid || ':' || ${version('i')} || ':' || ${version('ic')}`, 'stamp', 'pg_get_indexdef(i.indexrelid)', 'definition')}, i.indexrelid::text as oid,
       i.indisvalid as valid, ${description('pg_class', 'ic.oid')} as comment
  from pg_index i
  join pg_class ic on ic.oid = i.indexrelid join pg_namespace n on n.oid = ic.relnamespace
  join pg_class tc on tc.oid = i.indrelid join pg_namespace tn on tn.oid = tc.relnamespace
 where ${userOid('i.indexrelid')} and tc.relkind in ('r', 'p', 'm') and not ic.relispartition and ${ownRelation('tc', 'tn')}
   and (${s.relation('i.indrelid')} or ${s.relation('i.indexrelid')})
   and ${notFromExtension('pg_class', 'ic.oid')}
   and not exists (select 1 from pg_constraint co where co.conindid = i.indexrelid and co.conrelid = i.indrelid and co.contype in ('p', 'u', 'x'))`;

const sequences = (s: Scope) => `
select ${qname('n', 'c.relname')} as key, n.nspname::text as schema, c.relname::text as name,
       format_type(s.seqtypid, null) as type, s.seqstart::text as start, s.seqincrement::text as increment,
       s.seqmin::text as min, s.seqmax::text as max, s.seqcache::text as cache, s.seqcycle as cycle,
       (select ${qname('tn', 'tc.relname')} || '.' || quote_ident(a.attname)
          from pg_depend d join pg_class tc on tc.oid = d.refobjid join pg_namespace tn on tn.oid = tc.relnamespace
          join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
         where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.refclassid = 'pg_class'::regclass and d.deptype = 'a'
         limit 1) as owned_by,
       ${description('pg_class', 'c.oid')} as comment
  from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_sequence s on s.seqrelid = c.oid
 where c.relkind = 'S' and ${ownRelation('c', 'n')} and ${s.relation('c.oid')}
   and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'i')`;

const views = (s: Scope) => `
select ${qname('n', 'c.relname')} as key, n.nspname::text as schema, c.relname::text as name,
       c.relkind = 'm' as materialized, c.oid::text as oid,
       ${printed(s, `'v' || c.oid || ':' || ${version('c')} || ':' || (select string_agg(${version('r')}, ',' order by r.oid) from pg_rewrite r where r.ev_class = c.oid)`, 'stamp', 'pg_get_viewdef(c.oid)', 'definition')},
       coalesce(c.reloptions, '{}')::text[] as options,
       array(select distinct ${qname('rn', 'rc.relname')}
               from pg_rewrite r join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
               join pg_class rc on rc.oid = d.refobjid and d.refclassid = 'pg_class'::regclass
               join pg_namespace rn on rn.oid = rc.relnamespace
              where r.ev_class = c.oid and rc.oid <> c.oid and rc.relkind in ('v', 'm')) as depends_on,
       ${description('pg_class', 'c.oid')} as comment
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('v', 'm') and ${ownRelation('c', 'n')} and ${s.relation('c.oid')}`;

const functions = (s: Scope) => `
select p.oid::regprocedure::text as key,
       n.nspname::text as schema, p.proname::text as name, pg_get_function_identity_arguments(p.oid) as arguments,
       p.prokind::text as kind,
       case when p.prokind = 'a' then (
         select format('CREATE AGGREGATE %s(%s) (SFUNC = %s, STYPE = %s%s%s%s)',
                  ${qname('n', 'p.proname')}, pg_get_function_identity_arguments(p.oid), a.aggtransfn::regproc,
                  format_type(a.aggtranstype, null),
                  case when a.aggfinalfn::oid <> 0 then ', FINALFUNC = ' || a.aggfinalfn::regproc::text end,
                  case when a.aggcombinefn::oid <> 0 then ', COMBINEFUNC = ' || a.aggcombinefn::regproc::text end,
                  case when a.agginitval is not null then ', INITCOND = ' || quote_literal(a.agginitval) end)
           from pg_aggregate a where a.aggfnoid = p.oid)
       ${s.scoped ? `else pg_get_functiondef(p.oid) end as definition,` : `end as definition,
       case when p.prokind <> 'a' then 'f' || p.oid || ':' || ${version('p')} end as stamp,`} p.oid::text as oid,
       ${description('pg_proc', 'p.oid')} as comment
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where ${userOid('p.oid')} and ${userSchema('n')} and ${notFromExtension('pg_proc', 'p.oid')} and ${s.func('p.oid')}
   and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'i')`;

const triggers = (s: Scope) => `
select ${qname('n', 'c.relname')} as table_key, ${qname('n', 'c.relname')} || '.' || quote_ident(t.tgname) as key, t.tgname::text as name,
       ${printed(s, `'t' || t.oid || ':' || ${version('t')}`, 'stamp', 'pg_get_triggerdef(t.oid)', 'definition')}, t.oid::text as oid,
       t.tgenabled::text as enabled, ${description('pg_trigger', 't.oid')} as comment
  from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
 where ${userOid('t.oid')} and not t.tgisinternal and ${ownRelation('c', 'n')} and ${s.relation('t.tgrelid')}
   -- Not a partition's clone of its parent's trigger (PostgreSQL 13+ records it with tgparentid and a
   -- partition dependency; 12 marks clones internal). to_jsonb(t) ->> 'tgparentid' cost 10× more per row.
   and not exists (select 1 from pg_depend d where d.classid = 'pg_trigger'::regclass and d.objid = t.oid and d.deptype = 'P')`;

const types = (s: Scope) => `
select ${qname('n', 't.typname')} as key, n.nspname::text as schema, t.typname::text as name, t.typtype::text as typtype,
       array(select e.enumlabel::text from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder) as labels,
       case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end as base_type,
       t.typnotnull as not_null, t.typdefault as "default",
       case when t.typtype = 'd' and t.typcollation <> bt.typcollation then ${collationName('co', 'cn')} end as collation,
       (select format_type(r.rngsubtype, null) from pg_range r where r.rngtypid = t.oid) as subtype,
       ${description('pg_type', 't.oid')} as comment
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
  left join pg_type bt on bt.oid = t.typbasetype
  left join pg_collation co on co.oid = t.typcollation left join pg_namespace cn on cn.oid = co.collnamespace
 where ${userOid('t.oid')} and t.typtype in ('e', 'd', 'c', 'r') and ${userSchema('n')} and ${notFromExtension('pg_type', 't.oid')}
   and (${s.type('t.oid')} or ${s.relation('t.typrelid')})
   and (t.typtype <> 'c' or (select rc.relkind from pg_class rc where rc.oid = t.typrelid) = 'c')`;

const typeAttributes = (s: Scope) => `
select ${qname('n', 't.typname')} as type_key, a.attname::text as name, a.attnum::int as num, format_type(a.atttypid, a.atttypmod) as type,
       case when a.attcollation <> at.typcollation then ${collationName('co', 'cn')} end as collation
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
  join pg_attribute a on a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped
  join pg_type at on at.oid = a.atttypid
  left join pg_collation co on co.oid = a.attcollation left join pg_namespace cn on cn.oid = co.collnamespace
 where ${userOid('t.oid')} and t.typtype = 'c' and ${userSchema('n')} and ${notFromExtension('pg_type', 't.oid')}
   and (${s.type('t.oid')} or ${s.relation('t.typrelid')})
   and (select rc.relkind from pg_class rc where rc.oid = t.typrelid) = 'c'
 order by t.oid, a.attnum`;

const domainConstraints = (s: Scope) => `
select ${qname('n', 't.typname')} as type_key, co.conname::text as name, pg_get_constraintdef(co.oid) as definition
  from pg_constraint co join pg_type t on t.oid = co.contypid join pg_namespace n on n.oid = t.typnamespace
 where ${userOid('co.oid')} and co.contype = 'c' and ${userSchema('n')} and ${notFromExtension('pg_type', 't.oid')} and ${s.type('t.oid')}`;

const policies = (s: Scope) => `
select ${qname('n', 'c.relname')} as table_key, ${qname('n', 'c.relname')} || '.' || quote_ident(p.polname) as key, p.polname::text as name, p.polcmd::text as command, p.polpermissive as permissive,
       array(select case when r = 0 then 'public' else quote_ident(pg_get_userbyid(r)) end from unnest(p.polroles) r) as roles,
       pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as "check"
  from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
 where ${ownRelation('c', 'n')} and ${s.relation('p.polrelid')}`;


/**
 * Names of what definitions can mention, by oid: relations (with their columns' names, tab-separated in
 * attnum order, '' for a dropped one; a sequence in nextval('…'::regclass) is one; an index's name is
 * printed only in its own definition, whose stamp has its pg_class row),
 * types, functions, schemas, enum values (a default or a view prints a value by its label, which
 * ALTER TYPE … RENAME VALUE changes without touching the default's own row) and roles ('…'::regrole).
 * A name that changed since the last snapshot makes every remembered definition stale. The snapshot
 * always runs with an empty search_path, so what a definition prints never depends on the session's.
 */
export const NAMES = `
select 'r' || c.oid as k,
       c.relnamespace || '.' || c.relname || (select coalesce(string_agg(e'\\t' || case when a.attisdropped then '' else a.attname::text end, '' order by a.attnum), '')
                                                from pg_attribute a where a.attrelid = c.oid and a.attnum > 0) as v
  from pg_class c where ${userOid('c.oid')} and c.relkind not in ('i', 'I', 't')
union all
select 'y' || t.oid, t.typnamespace || '.' || t.typname from pg_type t where ${userOid('t.oid')} and t.typelem = 0 and t.typrelid = 0
union all
select 'p' || p.oid, p.pronamespace || '.' || p.proname from pg_proc p where ${userOid('p.oid')}
union all
select 'e' || e.oid, e.enumtypid || '.' || e.enumlabel from pg_enum e where ${userOid('e.oid')}
union all
select 'a' || r.oid, r.rolname::text from pg_roles r
union all
select 'n' || n.oid, n.nspname from pg_namespace n`;

const rowVersions = (catalog: string) => `(select md5(coalesce(string_agg(x.oid || ':' || ${version('x')}, ',' order by x.oid), '')) from ${catalog} x where ${userOid('x.oid')})`;

/** The session settings that print literals (a date, an interval, a float, a string with backslashes). */
const PRINT_SETTINGS = `current_setting('DateStyle'), current_setting('IntervalStyle'), current_setting('TimeZone'),
       current_setting('extra_float_digits'), current_setting('standard_conforming_strings'), current_setting('quote_all_identifiers'),
       current_setting('bytea_output'), current_setting('lc_monetary')`;

/**
 * What else definitions depend on: the settings that print literals, and operators, operator
 * classes, collations, extensions, languages, access methods, text search configurations and
 * dictionaries ('english'::regconfig), by the versions of their rows.
 */
export const EPOCH = `
select concat_ws('|', ${PRINT_SETTINGS},
       ${rowVersions('pg_operator')}, ${rowVersions('pg_opclass')}, ${rowVersions('pg_opfamily')}, ${rowVersions('pg_collation')},
       ${rowVersions('pg_extension')}, ${rowVersions('pg_language')}, ${rowVersions('pg_am')}, ${rowVersions('pg_ts_config')}, ${rowVersions('pg_ts_dict')})`;

const SECTIONS = { schemas, extensions, tables, columns, constraints, indexes, sequences, views, functions, triggers, types, typeAttributes, domainConstraints, policies };

export type SectionName = keyof typeof SECTIONS;

const PREAMBLE = `
with history as (select coalesce(to_regclass($1)::oid, 0) as oid),
     extension_member as (select classid, objid from pg_depend where deptype = 'e'),
     user_namespace as (${USER_NAMESPACE})`;

const sectionsOf = (s: Scope) => Object.entries(SECTIONS).map(([name, sql]) => `  '${name}', (select coalesce(json_agg(r), '[]') from (${sql(s).trim()}\n) r)`).join(',\n');

/**
 * All sections in one statement: { schemas: [row, …], extensions: […], …, names: { oid key: name }, epoch }.
 * $1: the history table's qualified name. Definitions that take the server real work to print
 * (views, indexes, constraints, triggers, functions, defaults) come as a stamp instead: the oid and the
 * version (xmin and ctid) of the catalog rows they are printed from, which any ALTER or CREATE OR REPLACE changes.
 */
export const SNAPSHOT = `${PREAMBLE}
select json_build_object(
${sectionsOf(EVERYTHING)},
  'names', (select coalesce(json_object_agg(k, v), '{}') from (${NAMES}) n),
  'epoch', (${EPOCH})
) as snapshot`;

/**
 * The same sections, of only the relations ($2), types ($3), functions ($4) and schemas ($5) given,
 * with their definitions printed (few objects: no stamps, no cache), and the settings that print
 * literals: a migration's SET may differ between two reads. The rows of operators, collations and the
 * rest of the epoch are not read: verify reads a scope only when none of them changed (unchanged.ts).
 */
export const SCOPED_SNAPSHOT = `${PREAMBLE}
select json_build_object(
${sectionsOf(GIVEN)},
  'printSettings', concat_ws('|', ${PRINT_SETTINGS})
) as snapshot`;

/** The definitions of the given oids: { views: [[oid, text], …], indexes, constraints, triggers, functions, expressions }. */
export const DEFINITIONS = `
select json_build_object(
  'views', (select json_agg(json_build_array(o, pg_get_viewdef(o))) from unnest($1::oid[]) o),
  'indexes', (select json_agg(json_build_array(o, pg_get_indexdef(o))) from unnest($2::oid[]) o),
  'constraints', (select json_agg(json_build_array(o, pg_get_constraintdef(o))) from unnest($3::oid[]) o),
  'triggers', (select json_agg(json_build_array(o, pg_get_triggerdef(o))) from unnest($4::oid[]) o),
  'functions', (select json_agg(json_build_array(o, pg_get_functiondef(o))) from unnest($5::oid[]) o),
  'expressions', (select json_agg(json_build_array(d.oid, pg_get_expr(d.adbin, d.adrelid))) from pg_attrdef d where d.oid = any($6::oid[]))
) as definitions`;

/** Rows that carry a stamp instead of a definition: the section, the stamp and oid fields, the field to fill, the group in DEFINITIONS. */
export const STAMPED = [
  { section: 'views', stamp: 'stamp', oid: 'oid', into: 'definition', group: 'views' },
  { section: 'indexes', stamp: 'stamp', oid: 'oid', into: 'definition', group: 'indexes' },
  { section: 'constraints', stamp: 'stamp', oid: 'oid', into: 'definition', group: 'constraints' },
  { section: 'triggers', stamp: 'stamp', oid: 'oid', into: 'definition', group: 'triggers' },
  { section: 'functions', stamp: 'stamp', oid: 'oid', into: 'definition', group: 'functions' },
  { section: 'columns', stamp: 'expression_stamp', oid: 'expression_oid', into: 'expression', group: 'expressions' },
] as const;

/** The order of DEFINITIONS' parameters. */
export const DEFINITION_GROUPS = ['views', 'indexes', 'constraints', 'triggers', 'functions', 'expressions'] as const;
