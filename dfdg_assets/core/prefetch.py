"""Build the next month while the current one is checked and written.

A roll-out step publishes its months one at a time: build (polars), key checks (polars, numpy),
then the schema and the Parquet write. `prefetched` moves the production of the next item (the
build and the checks wrapped around it) to one background thread, so the two halves overlap on
the machine's cores; both spend most of their time in polars or numpy, which release the GIL.

At most two items are alive: the one the caller holds and the one being produced. An exception
in the producer is raised in the caller at the item it concerns; when the caller stops early
(an exception of its own, a closed generator) the item under way is finished and dropped, and
the iterator is not advanced again. The producer only advances the iterator, one item at a time,
so the iterator needs no locking; it must not use anything bound to the caller's thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_END = object()


def prefetched(items: Iterable[T]) -> Iterator[T]:
    """The items of `items` in order, each produced while the caller works on the one before."""
    source = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dfdg-naeste-maaned") as pool:
        pending = pool.submit(next, source, _END)
        while True:
            item = pending.result()
            if item is _END:
                return
            pending = pool.submit(next, source, _END)
            yield item  # type: ignore[misc]
