"""One writer at a time on a data root: an advisory `flock` on a file under the data root.

Every run that writes (whatever launched it: `dfdg load`, the sensor, a schedule, the UI) holds
`.skriver.laas` for the whole run through the DataRootResource; `dfdg load` also holds
`.indlaesning.laas` from planning to the end, so a second `dfdg load` waits (or exits when told
not to wait) instead of planning the same work. The kernel releases a lock when its process dies,
so a killed writer never leaves the root locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

WRITER_LOCK = ".skriver.laas"
LOAD_LOCK = ".indlaesning.laas"


class Busy(RuntimeError):
    """Another process holds the lock."""


def holder(path: Path) -> str:
    """Who holds the lock, as written by the holder (pid and host), for messages."""
    try:
        return path.read_text(encoding="utf-8").strip() or "ukendt proces"
    except OSError:
        return "ukendt proces"


@contextlib.contextmanager
def exclusive(
    path: Path,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing). If another process holds it:
    call `on_wait` once with the holder's description, then wait (or raise Busy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = holder(path)
            if not wait:
                raise Busy(who) from None
            if on_wait:
                on_wait(who)
            if timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + timeout
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise Busy(who) from None
                        time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} på {os.uname().nodename}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


_HELD: dict[Path, int] = {}  # locks held by this process beyond a `with` block (a run's lock)


def hold(path: Path, on_wait: Callable[[str], None] | None = None) -> None:
    """Take the lock on `path` for this process until `release(path)` or the process ends (a run
    holds the writer lock from resource setup to its last step; a run worker's exit, or the
    loader after each in-process run, releases it)."""
    release(path)  # a run before in this process (sequential) still held it
    cm = exclusive(path, on_wait=on_wait)
    cm.__enter__()
    _HELD[path] = cm  # type: ignore[assignment]


def release(path: Path) -> None:
    cm = _HELD.pop(path, None)
    if cm is not None:
        cm.__exit__(None, None, None)  # type: ignore[attr-defined]
