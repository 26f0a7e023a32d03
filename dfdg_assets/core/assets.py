"""The one way to declare a warehouse asset: `warehouse_asset` (one table) and
`warehouse_multi_asset` (the raw tables of a delivery) apply the group, the kinds, the writer tag,
the grain (from `core/grain.py`), the monthly partitions with their single-run backfill policy and
the personal-data guard, so an asset's own code holds only what it computes."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from dfdg_assets.core.checks import partitioned_like
from dfdg_assets.core.grain import GRAIN
from dfdg_assets.core.guard import personal_data_guard
from dfdg_assets.core.partitions import data_months

WRITER_TAG = {"dfdg/skriver": "ja"}  # the instance runs one writing run at a time
TABLE_KINDS = frozenset({"polars", "parquet"})


def grain_description(name: str, lead: str = "") -> str:
    """An asset's description: an optional lead sentence, then its grain."""
    return f"{lead} Grain: {GRAIN[name]}.".strip()


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The asset function with every error turned into a Failure without personal data."""

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def steps(*args: Any, **kwargs: Any) -> Any:
            with personal_data_guard():
                yield from fn(*args, **kwargs)

        return steps

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with personal_data_guard():
            return fn(*args, **kwargs)

    return run


def _partitioning(partitioned: bool | dg.PartitionsDefinition) -> dict[str, Any]:
    """Monthly assets: the data months (or the benchmark's months), a range in one run."""
    if partitioned is False:
        return {}
    months = data_months if partitioned is True else partitioned
    return {"partitions_def": months, "backfill_policy": dg.BackfillPolicy.single_run()}


def _checks(
    specs: Sequence[dg.AssetCheckSpec] | None, partitioned: bool | dg.PartitionsDefinition
) -> list[dg.AssetCheckSpec] | None:
    """A monthly asset's checks are evaluated per month (core/checks.py)."""
    if not specs:
        return None
    return partitioned_like(specs, _partitioning(partitioned).get("partitions_def"))


def warehouse_asset(
    name: str,
    group: str,
    *,
    deps: Sequence[Any] = (),
    partitioned: bool | dg.PartitionsDefinition = False,
    kinds: frozenset[str] | set[str] = TABLE_KINDS,
    lead: str = "",
    description: str | None = None,
    check_specs: Sequence[dg.AssetCheckSpec] | None = None,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """Declare one asset of the warehouse. A table's description and `grain` metadata come from
    `GRAIN`; an asset that is not a table (maintenance) passes its own `description`."""
    meta = {"grain": GRAIN[name]} if name in GRAIN else {}

    def decorate(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        return dg.asset(
            name=name,
            group_name=group,
            deps=list(deps),
            kinds=set(kinds),
            op_tags=WRITER_TAG,
            description=description or grain_description(name, lead),
            metadata=meta,
            check_specs=_checks(check_specs, partitioned),
            **_partitioning(partitioned),
        )(guarded(fn))

    return decorate


def warehouse_multi_asset(
    name: str,
    *,
    specs: Sequence[dg.AssetSpec],
    check_specs: Sequence[dg.AssetCheckSpec] = (),
    partitioned: bool = True,
    can_subset: bool = False,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """Declare one step that writes several tables (the raw layer: one delivery at a time)."""

    def decorate(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        return dg.multi_asset(
            name=name,
            specs=list(specs),
            check_specs=_checks(check_specs, partitioned) or [],
            can_subset=can_subset,
            op_tags=WRITER_TAG,
            **_partitioning(partitioned),
        )(guarded(fn))

    return decorate


def table_spec(name: str, group: str, lead: str = "") -> dg.AssetSpec:
    """The spec of one table written by a multi-asset."""
    return dg.AssetSpec(
        name,
        group_name=group,
        description=grain_description(name, lead),
        metadata={"grain": GRAIN[name]},
        kinds=set(TABLE_KINDS),
    )
