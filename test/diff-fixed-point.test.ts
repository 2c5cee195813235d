import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

const base = {
  '001_users.up.sql': 'create table users (id bigint primary key, status varchar(20));',
  '001_users.down.sql': 'drop table users;',
};

/** Every expression form PostgreSQL keeps in a form of its own, on a new table and on one that exists. */
const desired = (extra = '') => `
create table users (
  id bigint primary key,
  status varchar(20) default 'active'::character varying check (status in ('active', 'gone')),
  seen_at timestamptz default CURRENT_TIMESTAMP,
  tag varchar(10) default 'x'::text,
  note text default 'none'::text check (note <> ''::text)${extra}
);
create table user_settings (
  user_id bigint primary key,
  units varchar(10) not null default 'metric' check (units in ('metric', 'imperial')),
  lang varchar(5) default ('en'::varchar)::text check (lang::text in ('en', 'de')),
  updated_at timestamp default now(),
  created_at timestamptz default now()::timestamptz,
  amount numeric default 1::numeric check (amount > 0::numeric)
);
`;

async function fixedPoint(t: { after(fn: () => unknown): void }, target: (root: string) => Promise<string>): Promise<void> {
  const { root, dir } = writeMigrations(t, base);
  writeFileSync(join(root, 'schema.sql'), desired());
  const url = await target(root);
  const cli = (...args: string[]) => runCli([...args, '--dir', dir, '--url', url], { cwd: root });

  const first = await cli('diff', '--name', 'forms');
  // The proof's words for a definition PostgreSQL keeps in its own form (stored-forms.ts owns the sentence).
  assert.match(first.stdout + first.stderr, /note: constraint users\.users_status_check: PostgreSQL keeps its definition in its own form, which reads back differently from schema\.sql; it is the same, nothing to change/);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  const applied = await cli('up');
  assert.equal(applied.code, 0, applied.stderr);
  const check = await cli('diff', '--check');
  assert.equal(check.code, 0, `diff --check after its own pair was applied: ${check.stdout}${check.stderr}`);
  assert.equal((await cli('drift')).code, 0);

  // An unrelated change: the next pair holds that change, and nothing else.
  writeFileSync(join(root, 'schema.sql'), desired(',\n  locale varchar(10)'));
  const files = readdirSync(dir).length;
  const next = await cli('diff', '--dry-run', '--json');
  assert.equal(next.code, 0, next.stderr);
  const r = JSON.parse(next.stdout) as { up: string; down: string; migrations: unknown[]; notes: string[] };
  // The comparison's words for the same pair: the same sentence.
  assert.deepEqual(r.notes, [['user_settings_units_check', 'user_settings'], ['users_status_check', 'users']].map(([name, table]) => `check constraint ${name} on table ${table}: PostgreSQL keeps its definition in its own form, which reads back differently from the text that made it; it is the same, nothing to change`));
  // The lock_timeout every written file on an existing table starts with is not part of the change.
  const statements = (sql: string) => sql.split('\n').filter((l) => l && !l.startsWith('--') && !l.startsWith('SET lock_timeout'));
  assert.deepEqual(statements(r.up), ['ALTER TABLE "public"."users" ADD COLUMN "locale" character varying(10);']);
  assert.deepEqual(statements(r.down), ['ALTER TABLE "public"."users" DROP COLUMN "locale";']);
  assert.equal(r.migrations.length, 1, 'no follow-up pair re-validating constraints');
  for (const note of r.notes) assert.doesNotMatch(note, /locale/);
  assert.equal(readdirSync(dir).length, files);

  // Written and applied, it is a fixed point again.
  assert.equal((await cli('diff', '--name', 'locale')).code, 0);
  assert.equal((await cli('up')).code, 0);
  const again = await cli('diff', '--check');
  assert.equal(again.code, 0, again.stdout + again.stderr);
}

test('diff is a fixed point on PGlite: after its pair is applied, --check exits 0 and an unrelated change writes only that change', async (t) => {
  await fixedPoint(t, freshPglite);
});

test('diff is a fixed point on PostgreSQL: the same, with the scratch on the server', async (t) => {
  await fixedPoint(t, async () => (await freshDb(t)).url);
});
