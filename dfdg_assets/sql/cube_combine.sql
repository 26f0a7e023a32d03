-- The measures of one query, each aggregated on its own records ({parts}: named subqueries),
-- combined on the attributes: GROUP BY treats nulls as equal, so this is a full outer join that
-- also matches null groups.
WITH
{parts}
SELECT {columns}
FROM (
{union}
) AS m
GROUP BY ALL{order}
