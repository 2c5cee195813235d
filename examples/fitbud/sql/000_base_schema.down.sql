drop table calorie_entries;
drop table users;
