create view daily_calories as
select user_id, date_trunc('day', eaten_at) as day, sum(calories) as calories
from calorie_entries
group by user_id, date_trunc('day', eaten_at);
