drop view daily_calories;
