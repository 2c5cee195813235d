/**
 * A long, realistic migration history for the benchmark: tables with foreign keys and indexes, enums,
 * plpgsql functions and triggers, views over joins, added columns with checks, seed data and comments,
 * each with a down that undoes it — the shape of a few years of a real project's migrations.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Migration { name: string; up: string; down: string }

export function writeRealisticHistory(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  const width = Math.max(3, String(count).length);
  for (let i = 1; i <= count; i++) {
    const m = migration(i);
    const base = `${String(i).padStart(width, '0')}_${m.name}`;
    writeFileSync(join(dir, `${base}.up.sql`), m.up);
    writeFileSync(join(dir, `${base}.down.sql`), m.down);
  }
}

/** Every seventh migration starts a new table; the six after it build on that table. */
function migration(i: number): Migration {
  const t = `entity_${Math.floor((i - 1) / 7) + 1}`;
  const prev = i > 7 ? `entity_${Math.floor((i - 1) / 7)}` : null;
  switch ((i - 1) % 7) {
    case 0: return {
      name: `create_${t}`,
      up: `-- ${t}: the records of one feature\ncreate table ${t} (\n  id bigserial primary key,\n` +
        (prev ? `  ${prev}_id bigint references ${prev} (id) on delete cascade,\n` : '') +
        `  name text not null,\n  payload jsonb not null default '{}',\n  created_at timestamptz not null default now(),\n  updated_at timestamptz not null default now()\n);\n` +
        (prev ? `create index ${t}_${prev}_idx on ${t} (${prev}_id);\n` : '') +
        `create unique index ${t}_name_key on ${t} (lower(name));\ncomment on table ${t} is 'records of feature ${i}';\n`,
      down: `drop table ${t};\n`,
    };
    case 1: return {
      name: `${t}_touch_trigger`,
      up: `create function ${t}_touch() returns trigger language plpgsql as $$\nbegin\n  new.updated_at := now();\n  if new.name is distinct from old.name then\n    raise notice 'renamed %; to %', old.name, new.name;\n  end if;\n  return new;\nend;\n$$;\n\n` +
        `create trigger ${t}_touch before update on ${t}\n  for each row execute function ${t}_touch();\n`,
      down: `drop trigger ${t}_touch on ${t};\ndrop function ${t}_touch();\n`,
    };
    case 2: return {
      name: `${t}_status`,
      up: `create type ${t}_status as enum ('draft', 'active', 'archived');\nalter table ${t} add column status ${t}_status not null default 'draft';\ncreate index ${t}_active_idx on ${t} (created_at) where status = 'active';\n`,
      down: `drop index ${t}_active_idx;\nalter table ${t} drop column status;\ndrop type ${t}_status;\n`,
    };
    case 3: return {
      name: `seed_${t}`,
      up: `insert into ${t} (name, payload) values\n` +
        Array.from({ length: 20 }, (_, k) => `  ('item ${k + 1}; of ${t}', '{"rank": ${k}, "tags": ["a", "b"]}')`).join(',\n') + ';\n',
      down: `delete from ${t} where name like 'item %';\n`,
    };
    case 4: return {
      name: `${t}_summary_view`,
      up: `create view ${t}_summary as\n  select e.id, e.name, e.status, count(*) over (partition by e.status) as in_status,\n` +
        `         e.created_at::date as day, e.payload ->> 'rank' as rank\n  from ${t} e\n  where e.status <> 'archived';\n` +
        `comment on view ${t}_summary is 'what the dashboard shows';\n`,
      down: `drop view ${t}_summary;\n`,
    };
    case 5: return {
      name: `${t}_score`,
      up: `alter table ${t} add column score numeric(10, 2) not null default 0 check (score >= 0);\n` +
        `create function ${t}_rank(p_id bigint) returns integer language sql stable as $$\n  select count(*)::int from ${t} where score > (select score from ${t} where id = p_id)\n$$;\n`,
      down: `drop function ${t}_rank(bigint);\nalter table ${t} drop column score;\n`,
    };
    default: return {
      name: `${t}_audit`,
      up: `create table ${t}_audit (\n  id bigserial primary key,\n  ${t}_id bigint not null references ${t} (id) on delete cascade,\n  action text not null,\n  at timestamptz not null default now()\n);\n` +
        `create index ${t}_audit_entity_idx on ${t}_audit (${t}_id, at desc);\n` +
        `create function ${t}_audit_log() returns trigger language plpgsql as $$\nbegin\n  insert into ${t}_audit (${t}_id, action) values (coalesce(new.id, old.id), lower(tg_op));\n  return coalesce(new, old);\nend;\n$$;\n` +
        `create trigger ${t}_audit after insert or update or delete on ${t}\n  for each row execute function ${t}_audit_log();\n`,
      down: `drop trigger ${t}_audit on ${t};\ndrop function ${t}_audit_log();\ndrop table ${t}_audit;\n`,
    };
  }
}
