"""The Dagster instance of a data root: its `dagster.yaml`, (re)written from the environment.

- `DFDG_POSTGRES_URL` set: runs, events and schedules live in PostgreSQL (`dagster-postgres`);
  the file names the variable (`postgres_url: {env: DFDG_POSTGRES_URL}`), never the password.
- unset: Dagster's embedded SQLite storage under the data root's Dagster home (the default
  files and layout), its event log through `orchestration.event_log`, which keeps each
  database's connection between events instead of opening one per event. The file then names
  the event log's folder by its absolute path, so it is rewritten when the data root moves (on
  every open, as always).

Either way: run monitoring on, and the queued run coordinator runs one writing run (tag
`dfdg/skriver: ja`, see `jobs.WRITER_TAG`) at a time; other runs queue behind it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import yaml

from dfdg_assets.core.settings import DataRoot

ENV_POSTGRES_URL = "DFDG_POSTGRES_URL"
WRITER_TAG_KEY, WRITER_TAG_VALUE = "dfdg/skriver", "ja"  # = jobs.WRITER_TAG (kept import-light)
# = event_log.MODULE, event_log.CLASS (that module imports Dagster's storage internals)
EVENT_LOG_MODULE, EVENT_LOG_CLASS = (
    "dfdg_assets.orchestration.event_log",
    "KeptSqliteEventLogStorage",
)

HEADER = """\
# The Dagster instance of this data root, written by dfdg from the environment
# (DFDG_POSTGRES_URL set: PostgreSQL; unset: embedded SQLite here). Edits are overwritten:
# change the environment or dfdg_assets/orchestration/instance.py instead.
"""


def instance_config(postgres: bool, home: Path | None = None) -> dict:
    """The instance settings as a mapping (the content of `dagster.yaml`); `home` (the Dagster
    home, for SQLite) places the event log in Dagster's own folder for it."""
    cfg: dict = {}
    if postgres:
        cfg["storage"] = {"postgres": {"postgres_url": {"env": ENV_POSTGRES_URL}}}
    elif home is not None:
        # Dagster's default runs and schedules; the event log in its default folder
        # (`history/runs/`), one kept connection per database (orchestration/event_log.py)
        cfg["event_log_storage"] = {
            "module": EVENT_LOG_MODULE,
            "class": EVENT_LOG_CLASS,
            "config": {"base_dir": os.path.join(str(Path(home).absolute()), "history", "runs", "")},
        }
    cfg["run_coordinator"] = {
        "module": "dagster.core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {
            "tag_concurrency_limits": [
                {"key": WRITER_TAG_KEY, "value": WRITER_TAG_VALUE, "limit": 1},
            ]
        },
    }
    # A run whose process dies is marked failed (by the code server that launched it, or after
    # start_timeout_seconds by the daemon); the sensor or an operator then runs it again.
    cfg["run_monitoring"] = {
        "enabled": True,
        "start_timeout_seconds": 300,
        "cancel_timeout_seconds": 300,
        "poll_interval_seconds": 30,
    }
    cfg["telemetry"] = {"enabled": False}
    return cfg


def instance_yaml(env: Mapping[str, str] | None = None, home: Path | None = None) -> str:
    env = os.environ if env is None else env
    body = yaml.safe_dump(instance_config(bool(env.get(ENV_POSTGRES_URL)), home), sort_keys=False)
    return HEADER + body


def write_instance_yaml(home: Path, env: Mapping[str, str] | None = None) -> Path:
    """(Re)write `home/dagster.yaml` from the environment; untouched when already current."""
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    text = instance_yaml(env, home)
    if not cfg.exists() or cfg.read_text(encoding="utf-8") != text:
        tmp = cfg.with_name(f".dagster.yaml.{os.getpid()}.tmp")  # concurrent openers never clash
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(cfg)
    return cfg


def open_instance(root: DataRoot) -> dg.DagsterInstance:
    """The persistent Dagster instance of the data root (its config written on every open)."""
    home = root.dagster_home
    write_instance_yaml(home)
    return dg.DagsterInstance.from_config(str(home))


def mask_url(url: str) -> str:
    """`postgresql://user:secret@host/db` -> `postgresql://user:***@host/db` (no secrets shown)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def describe_instance(root: DataRoot, env: Mapping[str, str] | None = None) -> str:
    """What `dfdg instance` prints: where the instance keeps its records and its dagster.yaml."""
    env = os.environ if env is None else env
    home = root.dagster_home
    cfg = write_instance_yaml(home, env)
    url = env.get(ENV_POSTGRES_URL)
    if url:
        storage = f"PostgreSQL {mask_url(url)} (fra ${ENV_POSTGRES_URL})"
    else:
        storage = f"SQLite i {home} (indlejret standard; sæt ${ENV_POSTGRES_URL} for PostgreSQL)"
    lines = [
        f"Dagster-hjem:  {home}  (DAGSTER_HOME for dagster-daemon og dagster-webserver)",
        f"Lager:         {storage}",
        f"Kørselskø:     én skrivende kørsel ad gangen (tag {WRITER_TAG_KEY}={WRITER_TAG_VALUE})",
        "Overvågning:   run monitoring slået til",
        f"Konfiguration: {cfg}",
        "",
        cfg.read_text(encoding="utf-8").rstrip(),
    ]
    return "\n".join(lines) + "\n"
