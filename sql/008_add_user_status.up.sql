-- A data migration: add the column, fill it for existing users, then make it required.
alter table users add column status varchar(20);
update users set status = 'active' where status is null;
alter table users alter column status set default 'active';
alter table users alter column status set not null;
