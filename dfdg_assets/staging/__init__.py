"""Staging: the current version of every record across all loaded deliveries (R3)."""
