-- sqlmig:lint-ignore constraint-not-valid applied long ago (Alembic history) when both tables were small: the check of every row took milliseconds
alter table calorie_entries
    add constraint calorie_entries_user_id_fkey
    foreign key (user_id) references users (telegram_id) on delete cascade;
