-- The fitbud bot's tables as they were before its first Alembic migration.
create table users (
    telegram_id bigint primary key,
    name        varchar(255) not null,
    email       varchar(255),
    created_at  timestamptz not null default now()
);

create table calorie_entries (
    id          bigserial primary key,
    user_id     bigint not null,
    calories    integer not null check (calories >= 0),
    description text,
    eaten_at    timestamptz not null default now()
);
