"""Raw layer: one monthly-partitioned table per delivery file, plus the rejected rows."""
