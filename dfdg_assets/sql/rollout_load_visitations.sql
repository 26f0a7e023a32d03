-- The R3-resolved visitations of the SQL reference roll-out, from the parquet file $path.
CREATE OR REPLACE TABLE visitations AS SELECT * FROM read_parquet($path)
