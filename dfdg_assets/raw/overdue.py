"""An overdue delivery as one clear signal: the check `levering_rettidig` on `raw_visitation`
fails (severity WARN) naming the overdue months. It is evaluated in every ingest run, can be
executed from the UI, and the sensor reports it (without a run) when the overdue months change."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.ingest.delivery import Completeness, delivery_months
from dfdg_assets.orchestration.ledger import newest_loaded_month, overdue_months

CHECK = "levering_rettidig"
ASSET = dg.AssetKey("raw_visitation")


def _short(months: list[str], n: int = 6) -> str:
    return ", ".join(months[:n]) + (f" … ({len(months)} i alt)" if len(months) > n else "")


def _parts(late: list[str]) -> dict:
    return {
        "passed": not late,
        "severity": dg.AssetCheckSeverity.WARN,
        "description": None if not late else f"Forfaldne leveringer: {_short(late)}",
        "metadata": {
            "forfaldne_maaneder": len(late),
            "foerste": late[0] if late else "",
            "seneste": late[-1] if late else "",
        },
    }


def evaluation(late: list[str]) -> dg.AssetCheckEvaluation:
    """The check's evaluation for these overdue months (reported by the sensor, runless)."""
    return dg.AssetCheckEvaluation(asset_key=ASSET, check_name=CHECK, **_parts(late))


def late_months(data_root: DataRootResource, today: dt.date | None = None) -> list[str]:
    """Overdue months: only which months have a delivery folder matters (no file is read, so
    the check costs the same with 4 years of deliveries in the inbox as with one)."""
    return overdue_months(
        [Completeness(m, True) for m in delivery_months(data_root.inbox)],
        today or dt.date.today(),
        newest_loaded_month(data_root.warehouse),
    )


@dg.asset_check(
    asset=ASSET,
    name=CHECK,
    description="Fails (WARN) when a delivery is overdue (due the 10th of the next month), naming the months.",
)
def levering_rettidig(data_root: DataRootResource) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(**_parts(late_months(data_root)))
