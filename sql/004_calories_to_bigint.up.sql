alter table calorie_entries alter column calories type bigint;
