"""Frames that hold only their own memory.

A polars string column is a list of views into shared byte buffers: a filter or join that keeps a
few rows of a large frame keeps every buffer those rows point into (a few thousand rows of a
national month hold all of that month's names). `compacted` copies such a frame into buffers of
its own, so the large frame's memory is freed with it."""

from __future__ import annotations

import io

import polars as pl


def compacted(df: pl.DataFrame) -> pl.DataFrame:
    """The same frame (rows, columns, types) in memory of its own: the string columns' bytes are
    copied out of the buffers they shared (through Arrow IPC, which writes only the bytes in use)."""
    if not any(dt == pl.String for dt in df.schema.values()):
        return df
    buf = io.BytesIO()
    df.write_ipc(buf, compression="uncompressed")
    buf.seek(0)
    return pl.read_ipc(buf)
