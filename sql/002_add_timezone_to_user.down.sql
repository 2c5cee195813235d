alter table users drop column timezone;
