create index calorie_entries_user_eaten_at_idx on calorie_entries (user_id, eaten_at);
