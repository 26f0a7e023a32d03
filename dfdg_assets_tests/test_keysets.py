"""The fast key arithmetic (core/keysets.py) gives exactly polars' plain answers: duplicated keys
and missing foreign keys, with real hashes and with hashes forced to collide."""

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfdg_assets.core import keysets
from dfdg_assets.core.keysets import MemberSet, has_duplicates
from dfdg_assets.core.schemas import SchemaViolation, table_schema, validate
from dfdg_assets.facts.keys import duplicate_keys, members, missing_references

_ints = st.one_of(st.none(), st.integers(-3, 12))
_strs = st.one_of(st.none(), st.sampled_from(["V1", "V2", "V10", "A", "", "æø"]))


def _plain_missing(values: pl.Series, known: pl.Series) -> int:
    """Rows with a non-null value that no member has (an anti-join, as before keysets)."""
    present = values.drop_nulls().to_frame("v")
    return present.join(known.drop_nulls().to_frame("v"), on="v", how="anti").height


@pytest.fixture(params=["real", "colliding"])
def hashes(request, monkeypatch):
    """Real 64-bit hashes, or hashes with three values in all (nearly every probe collides)."""
    if request.param == "colliding":
        real = keysets._hash
        monkeypatch.setattr(keysets, "_hash", lambda v: real(v) % 3)
    return request.param


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(_ints, _strs), max_size=30),
    st.lists(st.tuples(_ints, _strs), max_size=30),
)
def test_keysets_equal_plain_polars(hashes, facts, dim):
    df = pl.DataFrame(facts, schema={"k": pl.Int64, "s": pl.String}, orient="row")
    ref = pl.DataFrame(dim, schema={"k": pl.Int64, "s": pl.String}, orient="row")
    for key in (["k"], ["s"], ["k", "s"]):
        plain = df.height - df.select(key).unique().height
        assert has_duplicates(df, key) == (plain > 0)
        assert duplicate_keys(df, key) == plain
    for col in ("k", "s"):
        known = MemberSet(ref[col])
        assert known.missing_rows(df[col]) == _plain_missing(df[col], ref[col])
        assert missing_references(df, [col], members(ref, [col], [col])) == _plain_missing(
            df[col], ref[col]
        )
        absent = set(known.absent(df[col]).to_list())
        assert absent == set(df[col].drop_nulls()) - set(ref[col].drop_nulls())


def test_validate_reports_a_duplicated_key_as_pandera_did(hashes):
    schema = table_schema("t", {"a": (pl.Int64, False), "b": (pl.String, True)}, unique=["a", "b"])
    bad = pl.DataFrame({"a": [1, 1, 2, None], "b": ["x", "x", "y", "z"]})
    with pytest.raises(SchemaViolation) as e:
        validate(bad, schema)
    assert str(e.value) == (
        "t opfylder ikke sit skema: a: not_nullable (1 rækker); "
        "t: multiple_fields_uniqueness (2 rækker)"
    )
    good = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "x", None]})
    assert validate(good, schema).height == 3
    assert schema.unique == ["a", "b"]  # the schema itself keeps its key
