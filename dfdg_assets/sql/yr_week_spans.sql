-- Per YR partition file ($1: the files): the first and last week in its row groups' statistics
-- of `uge`, and whether every row group has them (if not, the file is read instead:
-- staging/benefits.week_spans). A file without rows has no row group and no line.
SELECT
    file_name,
    min(stats_min_value),
    max(stats_max_value),
    bool_and(stats_min_value IS NOT NULL AND stats_max_value IS NOT NULL)
FROM parquet_metadata($1)
WHERE path_in_schema = 'uge'
GROUP BY file_name
