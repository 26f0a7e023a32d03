"""`dfdg ui`: the Dagster UI (`dagster dev`: webserver + daemon) on the data root, with its address
printed and a clean stop within seconds on Ctrl-C or SIGTERM (the whole process group is ended:
`dagster dev` alone took 15-45 s)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from dfdg_assets.core.settings import DataRoot
from dfdg_assets.orchestration.instance import open_instance

WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(root: DataRoot) -> dict[str, str]:
    return {
        **os.environ,
        "DFDG_DATA_ROOT": str(root.root),
        "DAGSTER_HOME": str(root.dagster_home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }


def start(root: DataRoot, port: int, host: str = "127.0.0.1", log=None) -> subprocess.Popen:
    """`dagster dev` in its own process group (so it can be stopped as a whole)."""
    open_instance(root)  # writes dagster.yaml on first use
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster) if dagster.exists() else "dagster", "dev", "-w", str(WORKSPACE)]
    cmd += ["-h", host, "-p", str(port)]
    return subprocess.Popen(
        cmd,
        env=_env(root),
        cwd=str(WORKSPACE.parent),
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until the webserver answers and the code location `dfdg` is loaded."""
    deadline = time.monotonic() + timeout
    query = b'{"query":"{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"}'
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster dev endte med kode {proc.returncode}")
        with contextlib.suppress(OSError):
            req = urllib.request.Request(
                f"{url}/graphql", data=query, headers={"Content-Type": "application/json"}
            )
            body = urllib.request.urlopen(req, timeout=5).read().decode()
            if '"LOADED"' in body:
                return
        time.sleep(0.5)
    raise TimeoutError(f"Dagster UI svarede ikke på {url} inden {timeout:.0f} s")


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """End the whole process group: SIGTERM, then SIGKILL after `grace` seconds."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers (code server, daemon)


@contextlib.contextmanager
def running(root: DataRoot, port: int | None = None, log=None) -> Iterator[str]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(root, port, log=log)
    try:
        wait_ready(url, proc)
        yield url
    finally:
        stop(proc)


def serve(root: DataRoot, port: int = 3000, host: str = "127.0.0.1") -> int:
    """Run the UI until Ctrl-C or SIGTERM; print its address and what to look at."""
    proc = start(root, port, host)
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"

    def _stop(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C and SIGTERM stop it, also when started from a shell that ignores SIGINT for its
    # background jobs (Python then leaves SIGINT ignored and no KeyboardInterrupt would come)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        print(f"Starter Dagster UI for {root.root} …", flush=True)
        wait_ready(f"http://127.0.0.1:{port}" if host == "0.0.0.0" else url, proc)
        print(f"Dagster UI: {url}  (Ctrl-C stopper)", flush=True)
        print(f"  aktiver: {url}/assets   kørsler: {url}/runs   automation: {url}/automation")
        proc.wait()
        return proc.returncode or 0
    except KeyboardInterrupt:
        print("Stopper Dagster UI …", flush=True)
        t = time.monotonic()
        stop(proc)
        print(f"Stoppet ({time.monotonic() - t:.1f} s)", flush=True)
        return 0
    finally:
        stop(proc)
