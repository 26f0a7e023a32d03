-- One month of the SQL reference roll-out ({weeks_of_courses}: rollout_weeks_of_courses.sql),
-- sorted like the product's fct_visitation_uge partitions (row groups prune on municipality)
-- and written to the parquet file $target.
COPY (
{weeks_of_courses}
ORDER BY kommunekode, borger_key, uge
) TO $target (FORMAT parquet, COMPRESSION zstd)
