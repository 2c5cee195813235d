alter table calorie_entries rename column note to description;
