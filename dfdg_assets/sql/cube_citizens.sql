-- Citizens from one kind of record, or from the union of course-weeks and activity-weeks.
-- {count}: count(DISTINCT r._borger), or count(*) where the rows are already one per citizen and
-- group (the population by month, grouped by month and municipality).
SELECT {groups}{count} AS antal_borgere
FROM (
{rows}
) AS r
GROUP BY ALL
