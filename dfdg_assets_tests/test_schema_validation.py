"""`validate` (core/schemas.py) leaves pandera's per-column null checks out when one pass shows no
null where none may be: its verdict and its text stay pandera's own, for nulls and for NaN (which
pandera counts as null in a float column), on random frames."""

import math

import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfdg_assets.core.schemas import SchemaViolation, table_schema, validate

SCHEMA = table_schema(
    "t",
    {
        "k": (pl.Int64, False),
        "x": (pl.Float64, False),
        "s": (pl.String, False),
        "n": (pl.String, True),
    },
)
_floats = st.one_of(st.none(), st.just(math.nan), st.floats(-5, 5, allow_nan=False))
_rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 9)),
        _floats,
        st.one_of(st.none(), st.sampled_from(["a", "b"])),
        st.one_of(st.none(), st.sampled_from(["a", "b"])),
    ),
    max_size=12,
)


def _pandera_text(df: pl.DataFrame) -> str | None:
    """The failure text `validate` gives when pandera runs every check itself."""
    try:
        SCHEMA.validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        summary = e.failure_cases.group_by(pl.col("column").fill_null("<tabel>"), "check").len()
        shown = [f"{c}: {chk} ({n} rækker)" for c, chk, n in sorted(summary.iter_rows())]
        return "t opfylder ikke sit skema: " + "; ".join(shown)
    return None


@settings(max_examples=80, deadline=None)
@given(_rows)
def test_validate_gives_pandera_verdict_on_nulls_and_nan(rows):
    df = pl.DataFrame(rows, schema=_dtypes(), orient="row")
    expected = _pandera_text(df)
    if expected is None:
        assert validate(df, SCHEMA) is df
    else:
        with pytest.raises(SchemaViolation) as e:
            validate(df, SCHEMA)
        assert str(e.value) == expected


def _dtypes() -> dict[str, pl.DataType]:
    return {"k": pl.Int64(), "x": pl.Float64(), "s": pl.String(), "n": pl.String()}


def test_a_missing_required_column_still_fails():
    df = pl.DataFrame({"k": [1], "x": [0.5], "n": ["a"]})
    with pytest.raises(SchemaViolation):
        validate(df, SCHEMA)
    assert not SCHEMA.columns["k"].nullable  # the schema itself keeps its null checks
