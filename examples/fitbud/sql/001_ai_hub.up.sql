-- AI hub: health data from trackers and a log of AI conversations.
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

alter table users add column ai_enabled boolean not null default false;
alter table users add column goal_calories integer;
alter table calorie_entries add column source varchar(20) not null default 'manual';
