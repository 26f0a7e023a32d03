"""Merging sorted runs (staging merges) gives exactly the rows and order of a full sort."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dfdg_assets.staging.assets import _is_sorted, merge_disjoint, sorted_merge


def test_is_sorted_lexicographic():
    assert _is_sorted(pl.LazyFrame({"a": [1, 1, 2], "b": [1, 2, 0]}), ["a", "b"])
    assert not _is_sorted(pl.LazyFrame({"a": [1, 1, 2], "b": [2, 1, 0]}), ["a", "b"])
    assert not _is_sorted(pl.LazyFrame({"a": ["b", "a"]}), ["a"])
    assert _is_sorted(pl.LazyFrame({"a": []}, schema={"a": pl.String}), ["a"])


@settings(max_examples=60, deadline=None)
@given(
    old=st.dictionaries(st.text("abc0", max_size=3), st.integers(0, 9), max_size=20),
    new=st.dictionaries(st.text("abc0", max_size=3), st.integers(0, 9), max_size=8),
    sort_old=st.booleans(),
)
def test_sorted_merge_equals_concat_and_sort(old, new, sort_old):
    """The new rows win, the result is the full sort; an unsorted current table still gives
    the same rows (it is sorted instead of merged)."""
    schema = {"id": pl.String, "v": pl.Int64}
    o = pl.DataFrame({"id": list(old), "v": list(old.values())}, schema=schema)
    if sort_old:
        o = o.sort("id")
    n = pl.DataFrame({"id": list(new), "v": [x + 100 for x in new.values()]}, schema=schema)
    want = pl.concat([o.join(n, on="id", how="anti"), n]).sort("id")
    assert sorted_merge(o.lazy(), n.lazy(), ["id"]).equals(want)


def test_merge_disjoint_two_columns():
    old = pl.LazyFrame({"k": [1, 1, 3, 5], "d": [1, 4, 2, 0]})
    new = pl.LazyFrame({"k": [4, 2, 2], "d": [9, 3, 1]})
    got = merge_disjoint(old, new, ["k", "d"])
    assert got.equals(pl.concat([old, new]).sort("k", "d").collect())
    unsorted = pl.LazyFrame({"k": [3, 1, 1, 5], "d": [2, 4, 1, 0]})
    assert merge_disjoint(unsorted, new, ["k", "d"]).equals(
        pl.concat([unsorted, new]).sort("k", "d").collect()
    )
