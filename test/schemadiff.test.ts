import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareSnapshots, isNote, show } from '../lib/schema/compare.js';
import { renderSchema } from '../lib/schema/render.js';
import type { ColumnEntry, SchemaSnapshot, TableEntry } from '../lib/schema/snapshot.js';
import { stripSingleRelationQualifiers } from '../lib/schema/viewdef.js';
import { loadEquivalence } from '../lib/schema/equivalence.js';
import { loadParser } from '../lib/migrations/sql.js';

function empty(): SchemaSnapshot {
  return {
    schemas: { public: { name: 'public', comment: 'standard public schema' } },
    extensions: {}, types: {}, sequences: {}, tables: {}, constraints: {}, indexes: {}, views: {}, functions: {}, triggers: {}, policies: {},
  };
}

function column(name: string, type = 'integer', extra: Partial<ColumnEntry> = {}): ColumnEntry {
  return { name, type, notNull: false, default: null, identity: null, generated: null, collation: null, local: true, comment: null, ...extra };
}

function table(name: string, columns: ColumnEntry[], extra: Partial<TableEntry> = {}): TableEntry {
  return {
    schema: 'public', name, partitioned: false, unlogged: false, columns, rowSecurity: false, forceRowSecurity: false,
    partitionKey: null, partitionBound: null, parents: [], options: [], comment: null, ...extra,
  };
}

function withTable(t: TableEntry): SchemaSnapshot {
  return { ...empty(), tables: { [`public.${t.name}`]: t } };
}

const messages = (before: SchemaSnapshot, after: SchemaSnapshot) => compareSnapshots(before, after).map((d) => d.message);

test('the same snapshot has no differences', () => {
  const s = withTable(table('a', [column('id'), column('x')]));
  assert.deepEqual(compareSnapshots(s, structuredClone(s)), []);
});

test('an index left behind is named with its table', () => {
  const before = withTable(table('a', [column('id'), column('y')]));
  const after = { ...structuredClone(before), indexes: { 'public.a_y': { schema: 'public', name: 'a_y', table: 'public.a', definition: 'CREATE INDEX a_y ON public.a USING btree (y)', valid: true, comment: null } } };
  const diff = compareSnapshots(before, after);
  assert.equal(diff.length, 1);
  assert.equal(diff[0]!.kind, 'extra');
  assert.equal(diff[0]!.objectType, 'index');
  assert.equal(diff[0]!.object, 'public.a_y');
  assert.equal(diff[0]!.message, 'index a_y on table a left behind');
});

test('column changes: type, nullability, default, left behind and missing', () => {
  const before = withTable(table('a', [column('id'), column('x'), column('gone')]));
  const after = withTable(table('a', [column('id', 'bigint', { notNull: true, default: '0' }), column('x'), column('z', 'text')]));
  assert.deepEqual(messages(before, after), [
    'column a.gone missing',
    'column a.id type bigint, was integer',
    'column a.id not null, was nullable',
    'column a.id default 0, was none',
    'column a.z left behind',
  ]);
});

test('a difference in column order only is a note', () => {
  const before = withTable(table('a', [column('id'), column('x'), column('y')]));
  const after = withTable(table('a', [column('id'), column('y'), column('x')]));
  const diff = compareSnapshots(before, after);
  assert.equal(diff.length, 1);
  assert.equal(diff[0]!.kind, 'column-order');
  assert.ok(isNote(diff[0]!));
  assert.match(diff[0]!.message, /columns of table a in a different order: \(id, y, x\), was \(id, x, y\)/);
});

test('enum values: left behind, missing and reordered', () => {
  const mood = (labels: string[]): SchemaSnapshot => ({ ...empty(), types: { 'public.mood': { schema: 'public', name: 'mood', comment: null, kind: 'enum', labels } } });
  assert.deepEqual(messages(mood(['sad', 'ok']), mood(['sad', 'ok', 'happy'])), ["value 'happy' of enum mood left behind"]);
  assert.deepEqual(messages(mood(['sad', 'ok']), mood(['sad'])), ["value 'ok' of enum mood missing"]);
  assert.deepEqual(messages(mood(['sad', 'ok']), mood(['ok', 'sad'])), ['enum mood values in order (ok, sad), was (sad, ok)']);
});

test('constraints, functions, views, row-level security and policies are named', () => {
  const before = withTable(table('a', [column('id')]));
  const after: SchemaSnapshot = {
    ...withTable(table('a', [column('id')], { rowSecurity: true })),
    constraints: { 'public.a.a_id_check': { table: 'public.a', name: 'a_id_check', type: 'check', definition: 'CHECK ((id > 0))', comment: null } },
    functions: { 'public.f(integer)': { schema: 'public', name: 'f', arguments: 'i integer', kind: 'function', definition: 'CREATE FUNCTION …', comment: null } },
    views: { 'app.v': { schema: 'app', name: 'v', materialized: true, definition: ' SELECT 1;', options: [], dependsOn: [], comment: null } },
    policies: { 'public.a.p': { table: 'public.a', name: 'p', command: 'select', permissive: true, roles: ['public'], using: 'true', check: null } },
  };
  assert.deepEqual(messages(before, after), [
    'table a row-level security enabled, was disabled',
    'check constraint a_id_check on table a left behind',
    'materialized view app.v left behind',
    'function f(integer) left behind',
    'policy p on table a left behind',
  ]);
});

test('a changed function names the first line that differs', () => {
  const f = (body: string): SchemaSnapshot => ({
    ...empty(),
    functions: { 'public.f(integer)': { schema: 'public', name: 'f', arguments: 'i integer', kind: 'function', definition: `CREATE OR REPLACE FUNCTION public.f(i integer)\n RETURNS integer\n LANGUAGE sql\nAS $function$${body}$function$\n`, comment: null } },
  });
  assert.deepEqual(messages(f('select i'), f('select i + 1')), ['function f(integer) definition differs at line 4: "AS $function$select i + 1$function$", was "AS $function$select i$function$"']);
});

test('show() leaves other schemas qualified', () => {
  assert.equal(show('public.users'), 'users');
  assert.equal(show('app.users'), 'app.users');
});

test('rendering is stable and orders dependencies before dependants', () => {
  const s: SchemaSnapshot = {
    ...withTable(table('b', [column('id', 'integer', { notNull: true }), column('a_id')])),
    views: {
      'public.v2': { schema: 'public', name: 'v2', materialized: false, definition: ' SELECT id FROM public.v1;', options: [], dependsOn: ['public.v1'], comment: null },
      'public.v1': { schema: 'public', name: 'v1', materialized: false, definition: ' SELECT id FROM public.b;', options: [], dependsOn: [], comment: 'first' },
    },
    constraints: {
      'public.b.b_a_fkey': { table: 'public.b', name: 'b_a_fkey', type: 'foreign key', definition: 'FOREIGN KEY (a_id) REFERENCES public.b(id)', comment: null },
      'public.b.b_pkey': { table: 'public.b', name: 'b_pkey', type: 'primary key', definition: 'PRIMARY KEY (id)', comment: null },
    },
  };
  const sql = renderSchema(s, { version: '002_b' });
  assert.equal(sql, renderSchema(structuredClone(s), { version: '002_b' }));
  assert.ok(sql.endsWith(';\n'));
  assert.ok(!/\d{4}-\d{2}-\d{2}|PostgreSQL \d/.test(sql), 'no dates or server versions');
  assert.ok(sql.indexOf('create view public.v1') < sql.indexOf('create view public.v2'));
  assert.ok(sql.indexOf('b_pkey PRIMARY KEY') < sql.indexOf('b_a_fkey FOREIGN KEY'));
  assert.match(sql, /create table public\.b \(\n {4}id integer not null,\n {4}a_id integer\n\);/);
  assert.match(sql, /comment on view public\.v1 is 'first';/);
});

test('view definitions printed by PostgreSQL 15 and 16+ normalise to one text', async () => {
  const lib = await loadParser();
  const normalize = (text: string) => stripSingleRelationQualifiers(text, lib.parseSync(text) as Record<string, unknown>);
  const pg15 = " SELECT calorie_entries.user_id,\n    sum(calorie_entries.calories) AS calories\n   FROM public.calorie_entries\n  WHERE (calorie_entries.note <> 'calorie_entries.x'::text)\n  GROUP BY calorie_entries.user_id;";
  const pg18 = " SELECT user_id,\n    sum(calories) AS calories\n   FROM public.calorie_entries\n  WHERE (note <> 'calorie_entries.x'::text)\n  GROUP BY user_id;";
  assert.equal(normalize(pg15), pg18);
  assert.equal(normalize(pg18), pg18);
  const aliased = ' SELECT p.person_id\n   FROM app.post_counts p\n  WHERE (p.n > 10);';
  assert.equal(normalize(aliased), ' SELECT person_id\n   FROM app.post_counts p\n  WHERE (n > 10);');
  const join = ' SELECT a.id,\n    b.body\n   FROM (app.a a\n     JOIN app.b b ON ((b.a_id = a.id)));';
  assert.equal(normalize(join), join, 'two relations stay qualified');
  const sub = ' SELECT t.id\n   FROM public.t\n  WHERE (EXISTS ( SELECT 1\n           FROM public.u\n          WHERE (u.id = t.id)));';
  assert.equal(normalize(sub), ' SELECT id\n   FROM public.t\n  WHERE (EXISTS ( SELECT 1\n           FROM public.u\n          WHERE (u.id = t.id)));');
});

test('a date/time that PostgreSQL folded into a view or a default is a note; any other literal is a change', async () => {
  const equivalence = await loadEquivalence();
  const view = (definition: string): SchemaSnapshot => ({
    ...empty(),
    views: { 'public.recent': { schema: 'public', name: 'recent', materialized: false, definition, options: [], dependsOn: [], comment: null } },
  });
  const fold = (ts: string) => ` SELECT id\n   FROM public.a\n  WHERE (created_at > ('${ts}'::timestamp without time zone - '1 mon'::interval));`;
  const folded = compareSnapshots(view(fold('2026-01-05 10:00:00.1234')), view(fold('2026-01-05 10:00:01.98')), equivalence);
  assert.equal(folded.length, 1);
  assert.equal(folded[0]!.kind, 'folded-time');
  assert.ok(isNote(folded[0]!));
  assert.match(folded[0]!.message, /view recent definition differs at line 3: .*only a date\/time differs.*now\(\)/);
  const interval = compareSnapshots(view(fold('2026-01-05 10:00:00').replace('1 mon', '2 mons')), view(fold('2026-01-05 10:00:00')), equivalence);
  assert.equal(interval[0]!.kind, 'changed', 'an interval is not a folded time');
  const bothChanged = compareSnapshots(view(fold('2026-01-05 10:00:00')), view(fold('2026-01-06 10:00:00').replace('1 mon', '2 mons')), equivalence);
  assert.equal(bothChanged[0]!.kind, 'changed');
  assert.equal(compareSnapshots(view(fold('2026-01-05 10:00:00')), view(fold('2026-01-06 10:00:00')))[0]!.kind, 'changed', 'without the scanner nothing is a note');

  const defaults = (value: string) => withTable(table('a', [column('created_at', 'timestamp with time zone', { default: value })]));
  const d = compareSnapshots(defaults("'2026-01-05 10:00:00+00'::timestamp with time zone"), defaults("'2026-01-05 10:00:03.5+00'::timestamp with time zone"), equivalence);
  assert.deepEqual(d.map((x) => x.kind), ['folded-time']);
  assert.equal(compareSnapshots(defaults("'pending'::text"), defaults("'done'::text"), equivalence)[0]!.kind, 'changed');
});

test('whitespace in an SQL or PL/pgSQL function body is a note; inside a string literal, or in another language, it is a change', async () => {
  const equivalence = await loadEquivalence();
  const fn = (body: string, language = 'plpgsql'): SchemaSnapshot => ({
    ...empty(),
    functions: { 'public.f()': { schema: 'public', name: 'f', arguments: '', kind: 'function', comment: null, definition: `CREATE OR REPLACE FUNCTION public.f()\n RETURNS text\n LANGUAGE ${language}\nAS $function$${body}$function$\n` } },
  });
  const original = "\nbegin\n  return 'a b';\nend;\n";
  const reindented = "\nbegin\n\treturn   'a b' ;  -- the answer\nend;";
  const withComment = "\nbegin\n  return 'a b';  -- the answer\nend;\n";
  const notes = compareSnapshots(fn(withComment), fn(reindented), equivalence);
  assert.deepEqual(notes.map((x) => x.kind), ['whitespace']);
  assert.match(notes[0]!.message, /function f\(\) definition differs at line \d+: .*; only whitespace differs$/);
  assert.equal(compareSnapshots(fn(original), fn(withComment), equivalence)[0]!.kind, 'changed', 'a comment is more than whitespace');
  assert.equal(compareSnapshots(fn(original), fn(original.replace("'a b'", "'a  b'")), equivalence)[0]!.kind, 'changed', 'whitespace inside a string is data');
  assert.equal(compareSnapshots(fn('\nreturn 1', 'plpython3u'), fn('\n  return 1', 'plpython3u'), equivalence)[0]!.kind, 'changed', 'indentation is syntax in Python');
  const nested = (q: string) => fn(`\nbegin\n  execute $q$${q}$q$;\n  return 'x';\nend;\n`);
  assert.equal(compareSnapshots(nested('select 1'), nested('select\n  1'), equivalence)[0]!.kind, 'changed', 'a dollar-quoted string in the body may be data');
});
