-- A data migration: add the column, fill it for existing users, then make it required.
alter table users add column status varchar(20);
-- sqlmig:lint-ignore backfill-under-lock users holds one row per bot user (thousands): the update under the ADD COLUMN's lock is short, and the column must be filled before SET NOT NULL commits with it
update users set status = 'active' where status is null;
alter table users alter column status set default 'active';
-- sqlmig:lint-ignore set-not-null users holds one row per bot user (thousands): the scan is short, and the column was filled just above in the same transaction
alter table users alter column status set not null;
