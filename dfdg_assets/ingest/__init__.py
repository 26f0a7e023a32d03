"""Ingestion of monthly deliveries: file-level checks (R12), parsing, row-level checks."""
