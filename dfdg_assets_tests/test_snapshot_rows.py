"""The newest resident row per CPR number (`latest_resident_rows`) equals the general
`latest_of_months`, and `compacted` frames hold the same rows in memory of their own."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dfdg_assets.core.frames import compacted
from dfdg_assets.dimensions.build import latest_of_months, latest_resident_rows

SCHEMA = {
    "data_maaned": pl.String,
    "linje": pl.Int32,
    "cpr": pl.String,
    "fuldenavn": pl.String,
    "kommunekode": pl.Int32,
}
CPRS = [f"{d:02d}0190{s:04d}" for d in range(1, 6) for s in (1, 17, 4321)]


def _month(month: str, cprs: list[str], kommune: int) -> pl.LazyFrame:
    """One month's snapshot: each CPR number once (its key), lines in file order."""
    return pl.LazyFrame(
        {
            "data_maaned": [month] * len(cprs),
            "linje": list(range(2, len(cprs) + 2)),
            "cpr": cprs,
            "fuldenavn": [f"Navn {month} {c[-4:]} med et langt efternavn" for c in cprs],
            "kommunekode": [kommune] * len(cprs),
        },
        schema=SCHEMA,
    )


@settings(max_examples=60, deadline=None)
@given(
    months=st.lists(
        st.tuples(st.lists(st.sampled_from(CPRS), unique=True, max_size=10), st.integers(0, 999)),
        min_size=1,
        max_size=7,
    )
)
def test_latest_resident_rows_equal_the_general_rule(months):
    """Citizens who leave and come back, months without anyone: each CPR number takes its row
    from the newest month holding it, as `latest_of_months` gives it."""
    frames = [_month(f"2020-{i + 1:02d}", cprs, k) for i, (cprs, k) in enumerate(months)]
    newest_first = list(reversed(frames))
    got = latest_resident_rows(newest_first)
    want = latest_of_months(newest_first, ["cpr"], months_per_pass=3)
    assert got.sort("cpr").equals(want.sort("cpr"))
    assert got["cpr"].n_unique() == got.height


def test_compacted_is_the_same_frame_without_the_shared_buffers():
    big = pl.DataFrame(
        {
            "navn": [f"et langt navn der ikke er inline nr. {i}" for i in range(200_000)],
            "n": pl.Series(range(200_000), dtype=pl.Int32),
            "d": pl.Series([None, 1] * 100_000, dtype=pl.Date),
        }
    )
    few = big.filter(pl.col("n") % 50_000 == 0)
    small = compacted(few)
    assert small.equals(few)
    assert small.schema == few.schema

    # the filtered rows pointed into all of `big`'s string bytes; the copy holds its own
    def held(df: pl.DataFrame) -> int:  # the bytes the frame's buffers span, views as they are
        return df.to_arrow(compat_level=pl.CompatLevel.newest()).get_total_buffer_size()

    assert held(few) > 5_000_000 > 5_000 > held(small)
    no_strings = big.select("n")
    assert compacted(no_strings) is no_strings
