"""Where the product keeps its data: one data root holding the inbox, warehouse, exports and Dagster home.

`./data` unless `DFDG_DATA_ROOT` or a command's `--data-root` names another (SPEC section 5).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_DATA_ROOT = "DFDG_DATA_ROOT"


def default_data_root() -> Path:
    return Path(os.environ.get(ENV_DATA_ROOT) or "data").resolve()


@dataclass(frozen=True)
class DataRoot:
    """The folders under one data root."""

    root: Path

    @classmethod
    def of(cls, root: str | Path | None = None) -> DataRoot:
        return cls(Path(root).resolve() if root else default_data_root())

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def catalogue(self) -> Path:
        return self.warehouse / "dfdg.duckdb"
