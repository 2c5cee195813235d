/** What the planner needs from the live database, read once before planning (read-only). */
import type { Db } from '../db/index.js';
import { readCatalog } from '../lint/catalog.js';
import type { KnownSchema } from '../lint/known.js';
import type { TableSize } from '../lint/types.js';
import type { ColumnUse, TableFacts } from './types.js';

export interface LiveFacts {
  known: KnownSchema;
  tables: Map<string, TableFacts>;
  sizes: Map<string, TableSize>;
}

export async function readLiveFacts(db: Db): Promise<LiveFacts> {
  const [catalog, rows, uses] = await Promise.all([
    readCatalog(db),
    db.query<{ schema: string; table: string; kind: string; key: string[] | null; types: string[] | null; depended: string[] | null; parts: string[] | null; partkinds: string[] | null }>(
      `select n.nspname as schema, c.relname as table, c.relkind::text as kind,
          (select array_agg(pn.nspname || '.' || pc.relname order by pc.relname) from pg_inherits h join pg_class pc on pc.oid = h.inhrelid
             join pg_namespace pn on pn.oid = pc.relnamespace where h.inhparent = c.oid and c.relkind = 'p') as parts,
          (select array_agg(pc.relkind::text order by pc.relname) from pg_inherits h join pg_class pc on pc.oid = h.inhrelid
             where h.inhparent = c.oid and c.relkind = 'p') as partkinds,
          (select array_agg(a.attname::text order by k.ord) from pg_constraint p cross join unnest(p.conkey) with ordinality k(attnum, ord)
             join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum where p.conrelid = c.oid and p.contype = 'p') as key,
          (select array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) order by k.ord) from pg_constraint p cross join unnest(p.conkey) with ordinality k(attnum, ord)
             join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum where p.conrelid = c.oid and p.contype = 'p') as types,
          (select array_agg(distinct a.attname::text) from pg_depend d join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
            where d.refclassid = 'pg_class'::regclass and d.refobjid = c.oid and d.refobjsubid > 0) as depended
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'`),
    readColumnUses(db),
  ]);
  const tables = new Map<string, TableFacts>();
  for (const row of rows) {
    const key = `${row.schema}.${row.table}`;
    const size = catalog.sizes.get(key) ?? { rows: 0, bytes: 0 };
    tables.set(key, {
      primaryKey: (row.key ?? []).map((column, i) => ({ column, type: row.types![i]! })),
      partitioned: row.kind === 'p', dependedOn: row.depended ?? [],
      ...(row.kind === 'p' ? { partitions: (row.parts ?? []).map((name, i) => ({ name, partitioned: row.partkinds![i] === 'p' })) } : {}), uses: uses.get(key) ?? new Map(), rows: Math.max(0, size.rows), bytes: size.bytes,
    });
  }
  return { known: catalog.schema, tables, sizes: catalog.sizes };
}

/**
 * Everything that uses a column of a user table, by table and column: indexes (key, expression or
 * predicate), the table's own constraints, foreign keys of other tables that reference it, its default,
 * a sequence it owns, and whatever else depends on it (views, triggers, policies, statistics, …).
 */
async function readColumnUses(db: Db): Promise<Map<string, Map<string, ColumnUse[]>>> {
  const rows = await db.query<{ schema: string; table: string; column: string } & ColumnUse>(`
    with cols as (
      select c.oid as rel, n.nspname as schema, c.relname as tbl, a.attnum, a.attname
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
    ), uses as (
      select k.rel, k.attnum, 'index' as kind, i.relname::text as name, pg_get_indexdef(x.indexrelid) as definition, null::text as constraint
        from cols k join pg_index x on x.indrelid = k.rel join pg_class i on i.oid = x.indexrelid
       where (k.attnum = any(x.indkey::int2[]) or exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = x.indexrelid
                and d.refclassid = 'pg_class'::regclass and d.refobjid = k.rel and d.refobjsubid = k.attnum))
         and not exists (select 1 from pg_constraint o where o.conindid = x.indexrelid and o.conrelid = k.rel and o.contype in ('p', 'u', 'x'))
      union all
      select k.rel, k.attnum, case o.contype when 'c' then 'check' when 'u' then 'unique' when 'p' then 'primary key' when 'f' then 'foreign key' else 'other' end,
             case when o.contype in ('c', 'u', 'p', 'f') then o.conname::text else 'constraint ' || o.conname end,
             case when o.contype in ('u', 'p') then pg_get_indexdef(o.conindid) else pg_get_constraintdef(o.oid) end,
             case when o.contype in ('u', 'p') then pg_get_constraintdef(o.oid) end
        from cols k join pg_constraint o on o.conrelid = k.rel and k.attnum = any(o.conkey)
       where o.contype <> 'n'
      union all
      select k.rel, k.attnum, 'referenced', o.conname::text, o.conrelid::regclass::text, null
        from cols k join pg_constraint o on o.confrelid = k.rel and k.attnum = any(o.confkey) and o.contype = 'f'
      union all
      select k.rel, k.attnum, 'default', 'default', pg_get_expr(d.adbin, d.adrelid), null
        from cols k join pg_attrdef d on d.adrelid = k.rel and d.adnum = k.attnum
      union all
      select k.rel, k.attnum,
             case when d.classid = 'pg_class'::regclass and s.relkind = 'S' and d.deptype = 'a' then 'sequence'
                  when d.classid = 'pg_rewrite'::regclass then 'view' else 'other' end,
             case when d.classid = 'pg_class'::regclass and s.relkind = 'S' and d.deptype = 'a' then d.objid::regclass::text
                  when d.classid = 'pg_rewrite'::regclass then (select r.ev_class::regclass::text from pg_rewrite r where r.oid = d.objid)
                  else pg_describe_object(d.classid, d.objid, d.objsubid) end,
             '', null
        from cols k join pg_depend d on d.refclassid = 'pg_class'::regclass and d.refobjid = k.rel and d.refobjsubid = k.attnum
        left join pg_class s on d.classid = 'pg_class'::regclass and s.oid = d.objid
       where d.classid not in ('pg_constraint'::regclass, 'pg_attrdef'::regclass)
         and not (d.classid = 'pg_class'::regclass and s.relkind in ('i', 'I'))
    )
    select k.schema, k.tbl as table, k.attname as column, u.kind, u.name, u.definition, u.constraint
      from uses u join cols k on k.rel = u.rel and k.attnum = u.attnum
     order by k.schema, k.tbl, k.attname, u.kind, u.name`);
  const byTable = new Map<string, Map<string, ColumnUse[]>>();
  for (const r of rows) {
    // What a killed online run left is removed before the plan runs: it is no use to plan around.
    if (/\bsqlmig_tmp_/.test(r.name) || r.column.startsWith('sqlmig_tmp_')) continue;
    const key = `${r.schema}.${r.table}`;
    const columns = byTable.get(key) ?? new Map<string, ColumnUse[]>();
    byTable.set(key, columns);
    const list = columns.get(r.column) ?? [];
    columns.set(r.column, list);
    list.push({ kind: r.kind, name: r.name, definition: r.definition, ...(r.constraint ? { constraint: r.constraint } : {}) });
  }
  return byTable;
}
