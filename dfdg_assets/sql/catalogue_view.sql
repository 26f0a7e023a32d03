-- One view of the DuckDB catalogue over the exact Parquet versions of a table (TEMP: a query's
-- own view over some of them). DuckDB cannot prepare DDL: {view} is a quoted identifier, {files}
-- a list of quoted literals (dfdg_assets.sql.files_view).
CREATE OR REPLACE {scope}VIEW {view} AS SELECT * FROM read_parquet([{files}], union_by_name = true)
