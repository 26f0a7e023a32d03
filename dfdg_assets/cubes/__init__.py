"""Cube queries over the DuckDB catalogue (no Dagster import here: a query must start fast)."""
