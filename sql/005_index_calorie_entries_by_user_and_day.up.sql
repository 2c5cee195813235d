-- sqlmig:lint-ignore index-not-concurrently applied long ago (Alembic history) on a table of a few thousand rows; a new index today would be built CONCURRENTLY in a no-transaction migration
create index calorie_entries_user_eaten_at_idx on calorie_entries (user_id, eaten_at);
