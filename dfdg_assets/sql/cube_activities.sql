-- The activity measures: first one row per (group, activity), so every activity counts once per
-- group (its hours once per month and once per quarter), then summed per group.
SELECT {outer_groups}{measures}
FROM (
    SELECT {inner_groups}r._id{per_activity}
    FROM (
{rows}
    ) AS r
    GROUP BY ALL
) AS a
GROUP BY ALL
