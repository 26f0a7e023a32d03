-- One view of the DuckDB catalogue over the exact Parquet versions of a table. DuckDB cannot
-- prepare DDL: {view} is a quoted identifier, {files} a list of quoted literals (dfdg_assets.sql).
CREATE VIEW {view} AS SELECT * FROM read_parquet([{files}], union_by_name = true)
