-- The fitbud schema after 001_ai_hub: what the migrations in sql/ build, written as plain SQL.
-- Change it here, then run `sqlmig diff` to write the migration that takes a database there.

create table users (
    telegram_id   bigint primary key,
    name          varchar(255) not null,
    email         varchar(255),
    created_at    timestamptz not null default now(),
    ai_enabled    boolean not null default false,
    goal_calories integer
);

create table calorie_entries (
    id          bigserial primary key,
    user_id     bigint not null,
    calories    integer not null check (calories >= 0),
    description text,
    eaten_at    timestamptz not null default now(),
    source      varchar(20) not null default 'manual'
);

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
