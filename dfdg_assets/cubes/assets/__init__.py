"""The cubes layer in Dagster (the published benchmark); the pure cube code sits beside it."""
