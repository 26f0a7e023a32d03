-- dfdg bench, engine sql-agg: the group table of the agreement check (perf/children.py), over
-- the course weeks of rollout_course_weeks.sql.
SELECT maaned, visitationskategori, kommunekode, count(*) AS rows,
       count(DISTINCT borger_key) AS borgere, count(DISTINCT forloeb_id) AS forloeb
FROM (
{course_weeks}
)
GROUP BY ALL
