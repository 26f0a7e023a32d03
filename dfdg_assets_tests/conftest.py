import os
from pathlib import Path

import pytest

from dfdg_assets.core.settings import DataRoot


@pytest.fixture
def root(tmp_path: Path) -> DataRoot:
    r = DataRoot.of(tmp_path / "data")
    r.inbox.mkdir(parents=True)
    return r


@pytest.fixture(autouse=True)
def _no_ambient_data_root(monkeypatch):
    monkeypatch.delenv("DFDG_DATA_ROOT", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DFDG_POSTGRES_URL", raising=False)  # tests choose their instance storage
    yield


def warehouse_snapshot(root: DataRoot) -> dict[str, bytes]:
    """Every file under the warehouse with its bytes (the catalogue excluded: it is rebuilt)."""
    out = {}
    if root.warehouse.exists():
        for p in sorted(root.warehouse.rglob("*")):
            if p.is_file() and p.name != "dfdg.duckdb":
                out[str(p.relative_to(root.warehouse))] = p.read_bytes()
    return out


os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
