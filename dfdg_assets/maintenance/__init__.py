"""Maintenance: the SQL catalogue (and, as it lands, retention pruning)."""
