-- sqlmig:lint-ignore rename-column shipped in the release that switched the bot to `note`, with the bot stopped during the deploy: no running code used the old name
alter table calorie_entries rename column description to note;
