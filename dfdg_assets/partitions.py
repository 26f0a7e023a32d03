"""The one partitions definition: data months from 2017-01 (R1), keys `YYYY-MM-01`."""

from __future__ import annotations

import dagster as dg

FIRST_MONTH = "2017-01"

data_months = dg.MonthlyPartitionsDefinition(start_date="2017-01-01", timezone="Europe/Copenhagen")
