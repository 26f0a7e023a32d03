"""The one partitions definition: data months from 2017-01 (R1), keys `YYYY-MM-01`."""

from __future__ import annotations

import dagster as dg

FIRST_MONTH = "2017-01"

data_months = dg.MonthlyPartitionsDefinition(start_date="2017-01-01", timezone="Europe/Copenhagen")


def retention_start(newest: str) -> str:
    """First data month kept when `newest` is the newest loaded month (R10: January of Y-3)."""
    return max(f"{int(newest[:4]) - 3:04d}-01", FIRST_MONTH)
