"""`prefetched`: the next month is produced in a second thread while the caller works on the
current one; order, errors and early stops are as with the plain iterator."""

from __future__ import annotations

import threading

import polars as pl
import pytest

from dfdg_assets.core.keysets import has_duplicates
from dfdg_assets.core.prefetch import prefetched


def _counted(n: int, produced: list[int]):
    """0..n-1, each noted in `produced` as it is produced."""
    for i in range(n):
        produced.append(i)
        yield i


def test_items_in_order_and_produced_in_another_thread():
    threads: list[str] = []

    def produce():
        for i in range(5):
            threads.append(threading.current_thread().name)
            yield i

    assert list(prefetched(produce())) == [0, 1, 2, 3, 4]
    assert threads and all(t != threading.current_thread().name for t in threads)


def test_the_next_item_is_under_way_while_the_caller_holds_one_and_no_further():
    started: list[int] = []
    it = prefetched(_counted(10, started))
    assert next(it) == 0
    assert next(it) == 1
    # the caller holds 1; 2 is (being) produced, never 3 before 2 is taken
    it.close()
    assert max(started) <= 2


def test_an_error_reaches_the_caller_at_its_item():
    def produce():
        yield 1
        yield 2
        raise ValueError("måned 3 fejlede")

    got = []
    with pytest.raises(ValueError, match="måned 3"):
        for x in prefetched(produce()):
            got.append(x)
    assert got == [1, 2]


def test_an_empty_source():
    assert list(prefetched(iter(()))) == []


def test_the_caller_stopping_on_an_error_stops_the_producer():
    produced: list[int] = []
    with pytest.raises(RuntimeError):
        for x in prefetched(_counted(100, produced)):
            if x == 3:
                raise RuntimeError("skrivning fejlede")
    assert max(produced) <= 4


def test_duplicate_answers_are_kept_per_frame_across_threads():
    unique = pl.DataFrame({"k": list(range(1000)), "g": [0] * 1000})
    dup = pl.DataFrame({"k": [1, 2, 2]})
    answers: dict[str, bool] = {}

    def ask():
        answers["unique"] = has_duplicates(unique, ["k"])
        answers["dup"] = has_duplicates(dup, ["k"])

    t = threading.Thread(target=ask)
    t.start()
    t.join()
    assert answers == {"unique": False, "dup": True}
    # asked again from this thread, interleaved: each frame keeps its own answer
    assert has_duplicates(dup, ["k"]) is True
    assert has_duplicates(unique, ["k"]) is False
    assert has_duplicates(unique, ["g"]) is True  # same frame, another key
    assert has_duplicates(unique, ["k"]) is False
