"""A run whose process died never counts as under way.

Every run that opens the data root tags itself with the process that executes it (pid, the
process's start time, so a recycled pid is not mistaken for it, and the host). Before planning,
`dfdg load` and the sensor mark a STARTED run whose process on this host is gone as failed
(`report_run_failed`), so nothing waits for it and the sensor may retry its work. A run that is
still not tagged `DFDG_START_GRACE_S` seconds (180) after it was created died before its resources
started (a process killed between creating the run and starting it leaves it NOT_STARTED for
ever) and is marked failed too. QUEUED runs wait for the daemon and are never touched. Runs
started by the daemon on another host are left to Dagster's run monitoring.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Mapping

import dagster as dg

TAG_PID = "dfdg/pid"
TAG_PID_START = "dfdg/pid_start"
TAG_HOST = "dfdg/vaert"

_ALIVE_STATUSES = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
ENV_START_GRACE = "DFDG_START_GRACE_S"
DEFAULT_START_GRACE_S = 180.0


def start_grace_s() -> float:
    try:
        return float(os.environ.get(ENV_START_GRACE, DEFAULT_START_GRACE_S))
    except ValueError:
        return DEFAULT_START_GRACE_S


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    rest = stat[stat.rfind(")") + 2 :].split()
    return rest[19] if len(rest) > 19 else None


def process_tags(pid: int | None = None) -> dict[str, str]:
    pid = pid or os.getpid()
    return {
        TAG_PID: str(pid),
        TAG_PID_START: _start_time(pid) or "",
        TAG_HOST: socket.gethostname(),
    }


def is_alive(tags: Mapping[str, str]) -> bool | None:
    """True/False for a run executed on this host; None when it cannot be told here."""
    pid = tags.get(TAG_PID)
    if not pid or tags.get(TAG_HOST) != socket.gethostname():
        return None
    start = _start_time(int(pid))
    if start is None:
        return False
    return not tags.get(TAG_PID_START) or start == tags[TAG_PID_START]


def _never_started(rec, grace_s: float) -> bool:
    """No process ever tagged the run, and the start grace since its creation is over."""
    if rec.dagster_run.tags.get(TAG_PID):
        return False
    created = rec.create_timestamp
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return (dt.datetime.now(dt.UTC) - created).total_seconds() >= grace_s


def mark_dead_runs_failed(instance: dg.DagsterInstance) -> list[str]:
    """Mark every NOT_STARTED/STARTING/STARTED run whose process on this host is gone, or that
    no process tagged within the start grace, as failed."""
    dead = []
    grace_s = start_grace_s()
    for rec in instance.get_run_records(filters=dg.RunsFilter(statuses=_ALIVE_STATUSES), limit=200):
        run = rec.dagster_run
        if is_alive(run.tags) is False:
            why = (
                f"Processen der kørte kørslen (pid {run.tags.get(TAG_PID)}) findes ikke længere; "
                "kørslen er afbrudt og tæller ikke som udført."
            )
        elif _never_started(rec, grace_s):
            why = (
                f"Ingen proces har startet kørslen inden for {grace_s:.0f} s efter den blev "
                "oprettet; den tæller ikke som udført."
            )
        else:
            continue
        instance.report_run_failed(run, why)
        dead.append(run.run_id)
    return dead
