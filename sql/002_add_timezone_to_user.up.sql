alter table users add column timezone varchar(50) default 'UTC';
