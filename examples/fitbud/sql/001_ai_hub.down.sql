alter table calorie_entries drop column source;
alter table users drop column goal_calories;
alter table users drop column ai_enabled;
drop table ai_interactions;
drop table health_data;
