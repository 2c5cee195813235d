alter table calorie_entries
    add constraint calorie_entries_user_id_fkey
    foreign key (user_id) references users (telegram_id) on delete cascade;
