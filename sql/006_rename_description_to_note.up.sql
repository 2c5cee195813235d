alter table calorie_entries rename column description to note;
