/**
 * Pure: snapshot → plain SQL for review. Same snapshot, same bytes: no time, no server version, objects
 * in a fixed order (dependencies first, then by name in byte order). Owners and grants are left out.
 */
import { byKey, type ColumnEntry, type FunctionEntry, type SchemaSnapshot, type SequenceEntry, type TableEntry, type TypeEntry, type ViewEntry } from './snapshot.js';

export interface RenderOptions {
  /** The newest applied migration ("009_daily_calories_view"), shown in the header. */
  version?: string | null;
}

export function renderSchema(s: SchemaSnapshot, options: RenderOptions = {}): string {
  const header = [
    '-- Database schema written by `sqlmig dump-schema`. Do not edit: change a migration and dump again.',
    `-- Migrations applied up to: ${options.version ?? '(none)'}`,
  ].join('\n');
  const sections = [
    header,
    lines(Object.keys(s.schemas).filter((k) => k !== 'public').map((k) => `create schema ${k};`)),
    lines(sorted(s.extensions).map(([k, e]) => `create extension if not exists ${k} with schema ${quoteIdent(e.schema)};`)),
    blocks(['enum', 'range', 'domain', 'composite'].flatMap((kind) => sorted(s.types).filter(([, t]) => t.kind === kind).map(([k, t]) => renderType(k, t)))),
    Object.keys(s.functions).length ? 'set check_function_bodies = false;' : '',
    blocks([...sorted(s.functions).filter(([, f]) => f.kind !== 'aggregate'), ...sorted(s.functions).filter(([, f]) => f.kind === 'aggregate')].map(([, f]) => `${f.definition.trimEnd()};`)),
    lines(sorted(s.sequences).map(([k, q]) => renderSequence(k, q))),
    blocks(tablesInOrder(s.tables).map(([k, t]) => renderTable(k, t))),
    lines(sorted(s.sequences).filter(([, q]) => q.ownedBy).map(([k, q]) => `alter sequence ${k} owned by ${q.ownedBy};`)),
    lines(constraintsInOrder(s).map(([, c]) => `alter table ${c.table} add constraint ${quoteIdent(c.name)} ${c.definition};`)),
    blocks(viewsInOrder(s.views).map(([k, v]) => renderView(k, v))),
    lines(sorted(s.indexes).map(([, i]) => renderIndex(i.definition, i.valid, s.tables[i.table]?.partitioned ?? false))),
    lines(sorted(s.triggers).flatMap(([, t]) => [`${t.definition};`, ...(t.state === 'enabled' ? [] : [`alter table ${t.table} ${TRIGGER_STATE[t.state]} trigger ${quoteIdent(t.name)};`])])),
    lines(sorted(s.tables).flatMap(([k, t]) => [
      ...(t.rowSecurity ? [`alter table ${k} enable row level security;`] : []),
      ...(t.forceRowSecurity ? [`alter table ${k} force row level security;`] : []),
    ])),
    lines(sorted(s.policies).map(([, p]) => [
      `create policy ${quoteIdent(p.name)} on ${p.table} as ${p.permissive ? 'permissive' : 'restrictive'} for ${p.command} to ${p.roles.join(', ')}`,
      p.using !== null ? ` using (${p.using})` : '',
      p.check !== null ? ` with check (${p.check})` : '',
      ';',
    ].join(''))),
    lines(comments(s)),
  ];
  return `${sections.filter((x) => x !== '').join('\n\n')}\n`;
}

const TRIGGER_STATE = { disabled: 'disable', replica: 'enable replica', always: 'enable always' } as const;

const lines = (items: string[]) => items.join('\n');
const blocks = (items: string[]) => items.join('\n\n');

function sorted<T>(group: Record<string, T>): [string, T][] {
  return Object.entries(group).sort((a, b) => byKey(a[0], b[0]));
}

function renderType(key: string, t: TypeEntry): string {
  switch (t.kind) {
    case 'enum': return `create type ${key} as enum (${t.labels.map(literal).join(', ')});`;
    case 'range': return `create type ${key} as range (subtype = ${t.subtype});`;
    case 'composite': return `create type ${key} as (\n${t.attributes.map((a) => `    ${quoteIdent(a.name)} ${a.type}${a.collation ? ` collate ${a.collation}` : ''}`).join(',\n')}\n);`;
    case 'domain': return [
      `create domain ${key} as ${t.baseType}`,
      t.collation ? ` collate ${t.collation}` : '',
      t.default !== null ? ` default ${t.default}` : '',
      t.notNull ? ' not null' : '',
      ...sorted(t.constraints).map(([name, def]) => `\n    constraint ${quoteIdent(name)} ${def}`),
      ';',
    ].join('');
  }
}

const TYPE_LIMITS: Record<string, [string, string]> = {
  smallint: ['-32768', '32767'], integer: ['-2147483648', '2147483647'], bigint: ['-9223372036854775808', '9223372036854775807'],
};

function renderSequence(key: string, q: SequenceEntry): string {
  const [low, high] = TYPE_LIMITS[q.type] ?? ['', ''];
  const ascending = !q.increment.startsWith('-');
  const parts = [`create sequence ${key} as ${q.type}`, `start with ${q.start}`, `increment by ${q.increment}`];
  if (q.min !== (ascending ? '1' : low)) parts.push(`minvalue ${q.min}`);
  if (q.max !== (ascending ? high : '-1')) parts.push(`maxvalue ${q.max}`);
  if (q.cache !== '1') parts.push(`cache ${q.cache}`);
  if (q.cycle) parts.push('cycle');
  return `${parts.join(' ')};`;
}

function renderTable(key: string, t: TableEntry): string {
  const kind = t.unlogged ? 'create unlogged table' : 'create table';
  const options = t.options.length ? ` with (${t.options.join(', ')})` : '';
  const partitionBy = t.partitionKey ? ` partition by ${t.partitionKey}` : '';
  if (t.partitionBound !== null) return `${kind} ${key} partition of ${t.parents[0]} ${t.partitionBound}${partitionBy}${options};`;
  const columns = t.columns.filter((c) => c.local).map((c) => `    ${renderColumn(c)}`);
  const inherits = t.parents.length ? ` inherits (${t.parents.join(', ')})` : '';
  return `${kind} ${key} (${columns.length ? `\n${columns.join(',\n')}\n` : ''})${inherits}${partitionBy}${options};`;
}

function renderColumn(c: ColumnEntry): string {
  return [
    `${quoteIdent(c.name)} ${c.type}`,
    c.collation ? ` collate ${c.collation}` : '',
    c.identity ? ` generated ${c.identity} as identity` : '',
    c.generated ? ` generated always as (${c.generated.expression}) ${c.generated.kind}` : '',
    c.default !== null ? ` default ${c.default}` : '',
    c.notNull ? ' not null' : '',
  ].join('');
}

/** Parents before their partitions and children, then by name. */
function tablesInOrder(tables: Record<string, TableEntry>): [string, TableEntry][] {
  const depth = (key: string, seen = new Set<string>()): number => {
    const parents = tables[key]?.parents ?? [];
    if (seen.has(key) || parents.length === 0) return 0;
    seen.add(key);
    return 1 + Math.max(...parents.map((p) => depth(p, seen)));
  };
  return sorted(tables).map(([k, t]) => [k, t, depth(k)] as const).sort((a, b) => a[2] - b[2] || byKey(a[0], b[0])).map(([k, t]) => [k, t]);
}

/** Primary keys, unique, check and exclusion constraints first; foreign keys need the keys they point at. */
function constraintsInOrder(s: SchemaSnapshot) {
  const all = sorted(s.constraints);
  return [...all.filter(([, c]) => c.type !== 'foreign key'), ...all.filter(([, c]) => c.type === 'foreign key')];
}

/** A view after the views it reads (depth-first over dependsOn), otherwise by name. */
function viewsInOrder(views: Record<string, ViewEntry>): [string, ViewEntry][] {
  const out: [string, ViewEntry][] = [];
  const done = new Set<string>();
  const visit = (key: string) => {
    const view = views[key];
    if (!view || done.has(key)) return;
    done.add(key);
    view.dependsOn.forEach(visit);
    out.push([key, view]);
  };
  Object.keys(views).sort(byKey).forEach(visit);
  return out;
}

function renderView(key: string, v: ViewEntry): string {
  const body = v.definition.trim().replace(/;$/, '');
  const options = v.options.length ? ` with (${v.options.join(', ')})` : '';
  return v.materialized
    ? `create materialized view ${key}${options} as\n${body}\nwith no data;`
    : `create view ${key}${options} as\n${body};`;
}

function renderIndex(definition: string, valid: boolean, onPartitioned: boolean): string {
  // ON ONLY is how the catalog spells an index of a partitioned table; created plainly, it covers the partitions too.
  const sql = `${onPartitioned ? definition.replace(' ON ONLY ', ' ON ') : definition};`;
  return valid ? sql : `-- invalid (a CREATE INDEX CONCURRENTLY that failed?):\n-- ${sql}`;
}

function comments(s: SchemaSnapshot): string[] {
  const out: string[] = [];
  const add = (what: string, comment: string | null) => { if (comment !== null) out.push(`comment on ${what} is ${literal(comment)};`); };
  for (const [k, x] of sorted(s.schemas)) add(`schema ${k}`, k === 'public' && x.comment === 'standard public schema' ? null : x.comment);
  for (const [k, t] of sorted(s.types)) add(`${t.kind === 'domain' ? 'domain' : 'type'} ${k}`, t.comment);
  for (const [k, f] of sorted(s.functions)) add(`${functionWord(f)} ${k}`, f.comment);
  for (const [k, q] of sorted(s.sequences)) add(`sequence ${k}`, q.comment);
  for (const [k, t] of sorted(s.tables)) {
    add(`table ${k}`, t.comment);
    for (const c of t.columns) add(`column ${k}.${quoteIdent(c.name)}`, c.comment);
  }
  for (const [, c] of sorted(s.constraints)) add(`constraint ${quoteIdent(c.name)} on ${c.table}`, c.comment);
  for (const [k, v] of sorted(s.views)) add(`${v.materialized ? 'materialized view' : 'view'} ${k}`, v.comment);
  for (const [k, i] of sorted(s.indexes)) add(`index ${k}`, i.comment);
  for (const [, t] of sorted(s.triggers)) add(`trigger ${quoteIdent(t.name)} on ${t.table}`, t.comment);
  return out;
}

function functionWord(f: FunctionEntry): string {
  return f.kind === 'procedure' ? 'procedure' : f.kind === 'aggregate' ? 'aggregate' : 'function';
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Quoted unless a plain lowercase name that is not a keyword (as quote_ident does; over-quoting is harmless). */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !KEYWORDS.has(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

const KEYWORDS = new Set(('all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation ' +
  'column concurrently constraint create cross current_catalog current_date current_role current_schema current_time current_timestamp ' +
  'current_user default deferrable desc distinct do else end except false fetch for foreign freeze from full grant group having ilike in ' +
  'initially inner intersect into is isnull join lateral leading left like limit localtime localtimestamp natural not notnull null offset on ' +
  'only or order outer overlaps placing primary references returning right select session_user similar some symmetric system_user table ' +
  'tablesample then to trailing true union unique user using variadic verbose when where window with').split(' '));
