"""Turning any error inside an asset into a Dagster failure whose text carries no personal data."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator

import dagster as dg

from dfdg_assets.core.privacy import PersonalDataSafeError


def _where(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "dfdg_assets" in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return f" i {f.filename.rsplit('dfdg_assets', 1)[-1].lstrip('/')}:{f.lineno}"


@contextlib.contextmanager
def personal_data_guard() -> Iterator[None]:
    """Re-raise errors as `dg.Failure`: our own texts as they are, others by type and place only.

    Third-party messages (polars, pandera, duckdb) may quote the values they failed on, so their
    text is dropped; the chain is cut (`from None`) so the event log never stores it.
    """
    try:
        yield
    except dg.Failure:
        raise
    except PersonalDataSafeError as e:
        raise dg.Failure(description=str(e)) from None
    except Exception as e:  # noqa: BLE001
        raise dg.Failure(
            description=f"Uventet fejl: {type(e).__name__}{_where(e)} (teksten er udeladt, den kan rumme persondata)"
        ) from None
