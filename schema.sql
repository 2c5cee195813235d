-- The fitbud schema as it should be: what the migrations in sql/ build, written as plain SQL.
-- Change it here, then run `sqlmig diff` to write the migration that takes a database there
-- (and its down); `sqlmig diff --check` in CI fails while this file and sql/ disagree.

create table users (
    telegram_id   bigint primary key,
    name          varchar(255) not null,
    email         varchar(255),
    created_at    timestamptz not null default now(),
    ai_enabled    boolean not null default false,
    goal_calories integer,
    timezone      varchar(50) default 'UTC',
    status        varchar(20) not null default 'active'
);

create table calorie_entries (
    id        bigserial primary key,
    user_id   bigint not null references users (telegram_id) on delete cascade,
    calories  bigint not null check (calories >= 0),
    note      text,
    eaten_at  timestamptz not null default now(),
    source    varchar(20) not null default 'manual'
);
create index calorie_entries_user_eaten_at_idx on calorie_entries (user_id, eaten_at);

create table health_data (
    id          bigserial primary key,
    user_id     bigint not null references users (telegram_id) on delete cascade,
    metric      varchar(50) not null,
    value       numeric(10, 2) not null,
    recorded_at timestamptz not null default now()
);
create index health_data_user_metric_idx on health_data (user_id, metric, recorded_at);

create table ai_interactions (
    id          bigserial primary key,
    user_id     bigint not null references users (telegram_id) on delete cascade,
    prompt      text not null,
    response    text,
    model       varchar(100),
    tokens_used integer,
    created_at  timestamptz not null default now()
);

create table user_settings (
    user_id         bigint primary key references users (telegram_id) on delete cascade,
    units           varchar(10) not null default 'metric' check (units in ('metric', 'imperial')),
    daily_reminder  time,
    updated_at      timestamptz not null default now()
);

create view daily_calories as
select user_id, date_trunc('day', eaten_at) as day, sum(calories) as calories
from calorie_entries
group by user_id, date_trunc('day', eaten_at);
