"""Merging sorted runs (staging merges) gives exactly the rows and order of a full sort."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dfdg_assets.core.sorted_runs import is_sorted, merge_disjoint
from dfdg_assets.staging.assets import sorted_merge


def test_is_sorted_lexicographic():
    assert is_sorted(pl.LazyFrame({"a": [1, 1, 2], "b": [1, 2, 0]}), ["a", "b"])
    assert not is_sorted(pl.LazyFrame({"a": [1, 1, 2], "b": [2, 1, 0]}), ["a", "b"])
    assert not is_sorted(pl.LazyFrame({"a": ["b", "a"]}), ["a"])
    assert is_sorted(pl.LazyFrame({"a": []}, schema={"a": pl.String}), ["a"])


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


def test_merge_dim_borger_equals_the_general_merge():
    """The integer-keyed merge of `dim_borger` gives the rows and order of `dim_borger` with
    `current`: updated, new and newly referenced citizens, a citizen leaving the register."""
    from dfdg_assets.core.cpr import surrogate_keys
    from dfdg_assets.dimensions import build

    secret = b"k" * 32

    def keys_of(s: pl.Series) -> pl.Series:
        return surrogate_keys(s, secret)

    def snap(month, rows):
        return pl.DataFrame(
            {
                "cpr": [r[0] for r in rows],
                "fuldenavn": [r[1] for r in rows],
                "kommunekode": pl.Series([r[2] for r in rows], dtype=pl.Int32),
                "data_maaned": [month] * len(rows),
                "linje": pl.Series(range(2, len(rows) + 2), dtype=pl.Int32),
            }
        )

    def keys(cprs):
        s = pl.Series(cprs).unique()
        return pl.DataFrame({"cpr": s, "borger_key": keys_of(s)})

    first = snap("2020-01", [("0101901234", "A", 101), ("0202801234", "B", 147)])
    refs1 = pl.Series(["0303701234", "0101901234"])
    current = build.dim_borger(
        first.lazy(), refs1, keys(["0101901234", "0202801234", "0303701234"])
    )
    second = snap(
        "2020-02", [("0202801234", "B2", 151), ("0303701234", "C", 101), ("0404601234", "D", 157)]
    )
    refs2 = pl.Series(["0505501234", "0101901234", "0404601234", None])
    everyone = ["0101901234", "0202801234", "0303701234", "0404601234", "0505501234"]
    want = build.dim_borger(second.lazy(), refs2, keys(everyone), current)
    got = build.merge_dim_borger(current.lazy(), second.lazy(), refs2, keys_of)
    assert got.equals(want)
    assert got.height == 5
    empty = build.merge_dim_borger(current.lazy(), second.clear().lazy(), refs2.clear(), keys_of)
    assert empty.equals(current)


def test_a_merge_checks_its_new_rows_in_full_and_the_table_for_its_structure(tmp_path):
    """`build_incrementally` with a `Merged` result: a new row breaking a value check or a
    table of the wrong types is refused and nothing is published; a good merge is published."""
    import pytest

    from dfdg_assets.core.publishing import Merged, build_incrementally
    from dfdg_assets.core.resources import DataRootResource
    from dfdg_assets.core.schemas import SchemaViolation, table_schema
    from dfdg_assets.storage import increments

    root = DataRootResource(root=str(tmp_path / "data"))
    wh = root.warehouse
    wh.write("src", pl.DataFrame({"x": [1]}), "2020-01")
    schema = table_schema(
        "t", {"id": (pl.String, False, [pa_check()]), "v": (pl.Int64, True)}, unique=["id"]
    )
    table = pl.DataFrame({"id": ["a", "b"], "v": [1, None]})
    meta = build_incrementally(root, "t", ["src"], lambda: table, None, schema)
    assert meta["bygget"] == "fra hele historikken"

    def month():
        wh.write("src", pl.DataFrame({"x": [1]}), f"2020-0{len(wh.partitions('src')) + 1}")

    month()
    bad = pl.DataFrame({"id": ["zz"], "v": [3]})  # breaks the value check
    with pytest.raises(SchemaViolation):
        build_incrementally(
            root, "t", ["src"], None, lambda m: Merged(pl.concat([table, bad]), bad), schema
        )
    assert wh.read("t").equals(table)
    wrong = pl.DataFrame({"id": ["a", "b", "c"], "v": ["1", None, "3"]})
    with pytest.raises(SchemaViolation):
        build_incrementally(
            root, "t", ["src"], None, lambda m: Merged(wrong, wrong.tail(1)), schema
        )
    good = pl.DataFrame({"id": ["c"], "v": [3]})
    merged = pl.concat([table, good])
    meta = build_incrementally(root, "t", ["src"], None, lambda m: Merged(merged, good), schema)
    assert meta == {"dagster/row_count": 3, "bygget": "1 nye måneder"}
    assert wh.read("t").equals(merged)
    assert increments.new_months(wh, "t", ["src"]) == []


def pa_check():
    import pandera.polars as pa

    return pa.Check.str_matches(r"^[a-c]$")
