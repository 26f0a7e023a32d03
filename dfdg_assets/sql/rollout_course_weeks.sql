-- R4 + R5 in one statement: {courses} is rollout_courses.sql, {weeks_of_courses}
-- rollout_weeks_of_courses.sql.
WITH courses AS (
{courses}
)
{weeks_of_courses}
