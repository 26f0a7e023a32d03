"""Shared infrastructure: settings, resources, privacy, the writer guard, publishing, weeks, CPR, partitions, reference data, schemas."""
