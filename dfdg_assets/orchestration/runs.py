"""Runs that belong to the code location `dfdg` (workspace.yaml), whoever starts them.

`dfdg load` creates its runs with the same origin the webserver gives runs it launches (the code
location `dfdg`, module `dfdg_assets.definitions`, repository `__repository__`), so Dagster tags
them `.dagster/repository=__repository__@dfdg`: they show in Overview's timeline, on the job page
and in every asset's history, like runs from the sensor, the schedule or the UI. The run then
executes in this process (the jobs use the in-process executor)."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from dfdg_assets.core.privacy import redact

MODULE = "dfdg_assets.definitions"
LOCATION = "dfdg"  # workspace.yaml and [tool.dagster] code_location_name
REPOSITORY = "__repository__"  # the name Dagster gives the repository of a Definitions object
LABEL = f"{REPOSITORY}@{LOCATION}"  # the value of REPOSITORY_LABEL_TAG on every run of ours


def remote_origin(job_name: str) -> RemoteJobOrigin:
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=MODULE),
        location_name=LOCATION,
    )
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, REPOSITORY), job_name)


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    failure: str


def failure_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """The step failure descriptions of a run (our texts carry no personal data; redacted anyway)."""
    msgs = []
    for rec in instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ).records:
        ev = rec.event_log_entry.dagster_event
        err = ev.step_failure_data.error if ev and ev.step_failure_data else None
        msg = err.message if err else ""
        msgs.append(redact(msg.split(": ", 1)[-1].strip(), 2000))
    return "; ".join(msgs) or "kørslen fejlede"


@contextlib.contextmanager
def _follow(
    instance: dg.DagsterInstance, run_id: str, on_log: Callable[[str], None]
) -> Iterator[None]:
    """Pass the run's log messages to `on_log` from a thread while the run executes."""
    stop = threading.Event()

    def poll() -> None:
        cursor = None
        while True:
            last = stop.is_set()
            conn = instance.get_records_for_run(run_id, cursor=cursor)
            for rec in conn.records:
                if rec.event_log_entry.dagster_event is None:
                    on_log(rec.event_log_entry.user_message)
            cursor = conn.cursor
            if last:
                return
            stop.wait(0.5)

    t = threading.Thread(target=poll, name="dfdg-fremdrift", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=30)


def run_job(
    instance: dg.DagsterInstance,
    job_name: str,
    run_config: Mapping,
    tags: Mapping[str, str],
    on_log: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Create the run with the code location's origin and execute it here, synchronously.
    `on_log` receives the run's log messages while it runs (progress)."""
    from dfdg_assets.definitions import defs

    job_def = defs.resolve_job_def(job_name)
    recon = ReconstructableRepository.for_module(MODULE, "defs").get_reconstructable_job(job_name)
    run = instance.create_run_for_job(
        job_def,
        run_config=run_config,
        tags=dict(tags),
        remote_job_origin=remote_origin(job_name),
        job_code_origin=recon.get_python_origin(),
    )
    if on_log is None:
        execute_run(recon, run, instance)
    else:
        with _follow(instance, run.run_id, on_log):
            execute_run(recon, run, instance)
    done = instance.get_run_by_id(run.run_id)
    ok = done is not None and done.status == dg.DagsterRunStatus.SUCCESS
    return RunOutcome(run.run_id, ok, "" if ok else failure_text(instance, run.run_id))


__all__ = ["LABEL", "REPOSITORY_LABEL_TAG", "RunOutcome", "remote_origin", "run_job"]
