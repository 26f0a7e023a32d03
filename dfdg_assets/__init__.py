"""The DFDG data warehouse as a Dagster project."""
