-- sqlmig:lint-ignore alter-column-type ported from the bot's Alembic history and applied long ago, when calorie_entries held a few thousand rows: the rewrite took well under a second
alter table calorie_entries alter column calories type bigint;
