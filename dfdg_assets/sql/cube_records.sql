-- A distinct count of records (courses, conversations) per group; {rows}: cube_rows.sql.
SELECT {groups}count(DISTINCT r._id) AS {measure}
FROM (
{rows}
) AS r
GROUP BY ALL
