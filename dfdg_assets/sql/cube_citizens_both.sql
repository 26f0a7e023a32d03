-- Citizens with a course and an activity in the same week (same municipality when selected).
SELECT {groups}count(DISTINCT v._borger) AS antal_borgere
FROM (
{course_rows}
) AS v
JOIN (
{activity_rows}
) AS a ON a._borger = v._borger AND a._uge = v._uge{same_municipality}
GROUP BY ALL
