-- The roll-out scaling probe (perf/rollout_scale.py), engine sql-agg: rows and distinct
-- citizens per month of the course weeks (rollout_course_weeks.sql).
SELECT maaned, count(*) AS n, count(DISTINCT borger_key) AS borgere
FROM (
{course_weeks}
)
GROUP BY maaned
