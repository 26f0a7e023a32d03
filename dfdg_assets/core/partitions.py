"""The data months as Dagster partitions: the months the warehouse holds, nothing else.

Two dynamic partitions definitions, keys `YYYY-MM-01`:
- `data_maaned` (every monthly asset): a month is added when a run for it is launched (a
  delivery's ingest, the months a roll-out reaches) and deleted when retention (R10) prunes it, so
  the UI shows neither months after the newest delivery nor pruned months;
- `benchmark_maaned` (`cube_benchmark` only): the same months from 2020-01 (R8), so the benchmark
  never offers a month it cannot hold. Dagster 1.13 refuses one asset job whose assets have
  different partitions definitions, so the benchmark runs in its own job after each roll-out.

Dagster keeps dynamic keys in insertion order (`get_dynamic_partitions` orders by row id), and a
range `[first...last]` is resolved by position in that order. `changes` therefore keeps both
definitions sorted: a month that sorts before existing keys (a late delivery, the earlier months a
roll-out reaches) is inserted by deleting the keys after it and adding them again in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg

FIRST_MONTH = "2017-01"  # R1: the first data month
BENCHMARK_FIRST_MONTH = "2020-01"  # R8: YR data, and so the benchmark, start here (YR_FIRST_MONTH)

DATA_MONTHS = "data_maaned"
BENCHMARK_MONTHS = "benchmark_maaned"

data_months = dg.DynamicPartitionsDefinition(name=DATA_MONTHS)
benchmark_months = dg.DynamicPartitionsDefinition(name=BENCHMARK_MONTHS)

PartitionsRequest = dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest


def retention_start(newest: str) -> str:
    """First data month kept when `newest` is the newest loaded month (R10: January of Y-3)."""
    return max(f"{int(newest[:4]) - 3:04d}-01", FIRST_MONTH)


def key(month: str) -> str:
    """'2020-01' -> '2020-01-01' (a key passes through)."""
    return f"{month[:7]}-01"


def is_data_month(month: str, current: str) -> bool:
    """A month that can be a data month at all: from R1's first month to the current month."""
    return len(month) >= 7 and FIRST_MONTH <= month[:7] <= current[:7]


def _sorted_changes(name: str, current: Sequence[str], wanted: set[str]) -> list[PartitionsRequest]:
    """Requests that turn `current` (in Dagster's order) into `sorted(wanted)`."""
    target = sorted(wanted)
    gone = [k for k in current if k not in wanted]
    kept = [k for k in current if k in wanted]
    i = 0
    while i < len(kept) and kept[i] == target[i]:
        i += 1
    out: list[PartitionsRequest] = []
    # keys out of place (a new month sorts before them) are deleted and added again in order
    delete = gone + kept[i:]
    if delete:
        out.append(dg.DeleteDynamicPartitionsRequest(name, delete))
    if target[i:]:
        out.append(dg.AddDynamicPartitionsRequest(name, target[i:]))
    return out


def changes(
    instance: dg.DagsterInstance, add: Iterable[str] = (), remove_before: str | None = None
) -> list[PartitionsRequest]:
    """The requests that add the months `add` ('YYYY-MM' or keys) to the data months (and those
    from 2020-01 to the benchmark months), delete every month before `remove_before`, and leave
    both definitions sorted. Empty when nothing changes."""
    added = {key(m) for m in add}
    cut = key(remove_before) if remove_before else None
    out: list[PartitionsRequest] = []
    for name, first in ((DATA_MONTHS, FIRST_MONTH), (BENCHMARK_MONTHS, BENCHMARK_FIRST_MONTH)):
        current = list(instance.get_dynamic_partitions(name))
        wanted = {k for k in (*current, *added) if k >= key(first)}
        if cut:
            wanted = {k for k in wanted if k >= cut}
        if name == BENCHMARK_MONTHS:
            # the benchmark offers only data months
            data = {k for k in instance.get_dynamic_partitions(DATA_MONTHS)} | added
            wanted &= {k for k in data if not cut or k >= cut}
        if list(current) != sorted(wanted):
            out.extend(_sorted_changes(name, current, wanted))
    return out


def for_sensor(
    instance: dg.DagsterInstance, requests: Sequence[PartitionsRequest]
) -> list[PartitionsRequest]:
    """What a sensor returns in its SensorResult (the daemon applies it and logs it on the tick).
    Dagster 1.13 refuses a SensorResult that deletes and adds the same key
    (`sensor_definition._check_dynamic_partitions_requests`), which is how a month is inserted
    before later ones; such a reordering is applied here, at once."""
    out: list[PartitionsRequest] = []
    for name in (DATA_MONTHS, BENCHMARK_MONTHS):
        mine = [r for r in requests if r.partitions_def_name == name]
        deleted = {
            k
            for r in mine
            if isinstance(r, dg.DeleteDynamicPartitionsRequest)
            for k in r.partition_keys
        }
        added = {
            k
            for r in mine
            if isinstance(r, dg.AddDynamicPartitionsRequest)
            for k in r.partition_keys
        }
        if deleted & added:
            apply(instance, mine)
        else:
            out.extend(mine)
    return out


def apply(instance: dg.DagsterInstance, requests: Iterable[PartitionsRequest]) -> None:
    """Carry out partition requests in order, as the sensor daemon does with a SensorResult's."""
    for r in requests:
        if isinstance(r, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(r.partitions_def_name, list(r.partition_keys))
        else:
            for k in r.partition_keys:
                instance.delete_dynamic_partition(r.partitions_def_name, k)


def ensure(
    instance: dg.DagsterInstance, add: Iterable[str] = (), remove_before: str | None = None
) -> list[PartitionsRequest]:
    """Add and remove months now (`dfdg load`, the schedule, the retention asset, tests)."""
    requests = changes(instance, add, remove_before)
    apply(instance, requests)
    return requests


def months_in_range(first: str, last: str) -> list[str]:
    """Every month 'YYYY-MM' from `first` through `last`."""
    out = []
    y, m = int(first[:4]), int(first[5:7])
    while f"{y:04d}-{m:02d}" <= last[:7]:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
