/**
 * What a live database already has, read from its catalog (read-only): tables with their columns,
 * NOT NULLs, validated CHECK (col IS NOT NULL) constraints, indexes, size estimates, and whether
 * the session has a lock_timeout (ALTER ROLE/DATABASE … SET lock_timeout, or --ddl-lock-timeout).
 */
import type { Db } from '../db/index.js';
import { loadParser } from '../migrations/sql.js';
import { emptySchema, newTable, type KnownSchema } from './known.js';
import { as, notNullCheckColumn, type ColumnType } from './tree.js';
import type { TableSize } from './types.js';

const USER_SCHEMAS = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'`;

interface ColumnRow { schema: string; table: string; rows: number; bytes: number; column: string | null; type: string | null; typmod: number; notnull: boolean; array: boolean }

export interface LiveCatalog {
  schema: KnownSchema;
  /** Size estimates by table ("public.users"). */
  sizes: Map<string, TableSize>;
  lockTimeout: boolean;
  /** The session's TimeZone and the server's version (server_version_num). */
  timeZone: string;
  serverVersion: number;
}

export async function readCatalog(db: Db): Promise<LiveCatalog> {
  const [columns, checks, indexes, functions, settings] = await Promise.all([
    db.query<ColumnRow>(`select n.nspname as schema, c.relname as table, c.reltuples::float8 as rows,
        -- From the statistics, like reltuples: pg_total_relation_size would queue behind a lock on the table.
        ((c.relpages + coalesce((select t.relpages from pg_class t where t.oid = c.reltoastrelid), 0)
          + coalesce((select sum(i.relpages) from pg_index x join pg_class i on i.oid = x.indexrelid where x.indrelid = c.oid), 0))
          * current_setting('block_size')::int)::float8 as bytes,
        a.attname as column, coalesce(et.typname, t.typname) as type, a.atttypmod as typmod, a.attnotnull as notnull, t.typcategory = 'A' as array
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      left join pg_type t on t.oid = a.atttypid left join pg_type et on t.typcategory = 'A' and et.oid = t.typelem
      where c.relkind in ('r', 'p', 'm') and ${USER_SCHEMAS}`),
    db.query<{ schema: string; table: string; name: string; def: string }>(`select n.nspname as schema, c.relname as table, con.conname as name, pg_get_constraintdef(con.oid) as def
      from pg_constraint con join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
      where con.contype = 'c' and con.convalidated and cardinality(con.conkey) = 1 and ${USER_SCHEMAS}`),
    db.query<{ schema: string; index: string; table: string; columns: (string | null)[] }>(`select n.nspname as schema, i.relname as index, c.relname as table,
        array(select a.attname from unnest(x.indkey::int2[]) with ordinality k(attnum, n) left join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum order by k.n) as columns
      from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class c on c.oid = x.indrelid join pg_namespace n on n.oid = c.relnamespace
      where ${USER_SCHEMAS}`),
    db.query<{ name: string; volatility: string }>(`select distinct on (lower(p.proname)) lower(p.proname) as name, p.provolatile as volatility
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${USER_SCHEMAS} order by lower(p.proname), p.provolatile desc`),
    db.query<{ lock_timeout: string; time_zone: string; version: string }>(`select current_setting('lock_timeout') as lock_timeout, current_setting('TimeZone') as time_zone, current_setting('server_version_num') as version`),
  ]);
  const schema = emptySchema();
  const sizes = new Map<string, TableSize>();
  for (const row of columns) {
    const key = `${row.schema}.${row.table}`;
    let table = schema.tables.get(key);
    if (!table) {
      table = newTable(null);
      schema.tables.set(key, table);
      sizes.set(key, { rows: Number(row.rows), bytes: Number(row.bytes) });
    }
    if (row.column === null) continue;
    table.columns.set(row.column, row.type ? catalogType(row.type, row.typmod, row.array) : null);
    if (row.notnull) table.notNull.add(row.column);
  }
  const lib = checks.length ? await loadParser() : null;
  for (const check of checks) {
    const column = checkColumn(lib!, check.def);
    if (column) schema.tables.get(`${check.schema}.${check.table}`)?.checks.set(check.name, { column, validated: true });
  }
  for (const index of indexes) {
    schema.indexes.set(`${index.schema}.${index.index}`, { table: `${index.schema}.${index.table}`, createdIn: null, fresh: false, columns: index.columns });
  }
  const volatility = { i: 'immutable', s: 'stable', v: 'volatile' } as const;
  for (const f of functions) schema.functions.set(f.name, volatility[f.volatility as 'i' | 's' | 'v'] ?? 'volatile');
  return {
    schema, sizes, lockTimeout: !['0', '', '0ms'].includes(settings[0]?.lock_timeout ?? '0'),
    timeZone: settings[0]?.time_zone ?? '', serverVersion: Number(settings[0]?.version ?? 0),
  };
}

/** The catalog's type and typmod as the parser would give them: varchar(100) → { varchar, [100] }. */
export function catalogType(name: string, typmod: number, array: boolean): ColumnType {
  let mods: number[] = [];
  if (typmod >= 0) {
    if (name === 'varchar' || name === 'bpchar') mods = [typmod - 4];
    else if (name === 'numeric') mods = [((typmod - 4) >> 16) & 0xffff, (typmod - 4) & 0xffff];
    else mods = [typmod];
  }
  return { name, mods, array };
}

/** The column of `CHECK ((col IS NOT NULL))` as pg_get_constraintdef prints it, read with the parser. */
function checkColumn(lib: Awaited<ReturnType<typeof loadParser>>, def: string): string | null {
  try {
    const tree = lib.parseSync(`alter table t add ${def}`) as { stmts?: { stmt?: unknown }[] };
    const cmd = as(as(tree.stmts?.[0]?.stmt, 'AlterTableStmt')?.['cmds']?.[0], 'AlterTableCmd');
    const constraint = as(cmd?.['def'], 'Constraint');
    return constraint ? notNullCheckColumn(constraint) : null;
  } catch {
    return null;
  }
}
