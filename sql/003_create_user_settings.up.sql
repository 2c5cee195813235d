create table user_settings (
    user_id         bigint primary key references users (telegram_id) on delete cascade,
    units           varchar(10) not null default 'metric' check (units in ('metric', 'imperial')),
    daily_reminder  time,
    updated_at      timestamptz not null default now()
);
