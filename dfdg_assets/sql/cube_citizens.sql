-- Citizens from one kind of record, or from the union of course-weeks and activity-weeks.
SELECT {groups}count(DISTINCT r._borger) AS antal_borgere
FROM (
{rows}
) AS r
GROUP BY ALL
