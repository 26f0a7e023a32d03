"""Key and foreign-key checks of the facts (the checks on generated data: test_benchmark_asset)."""

import polars as pl

from dfdg_assets.facts.keys import duplicate_keys, members, missing_references, orphans


def test_orphans_and_duplicates():
    facts = pl.DataFrame(
        {"k": [1, 2, 3, None], "t": ["AMU", "DUN", "AMU", None], "id": ["a", "b", "b", "c"]}
    )
    dim = pl.DataFrame({"code": [1, 2], "type": ["AMU", "DUN"]})
    assert orphans(facts, ["k"], dim, ["code"]) == 1  # 3 is missing; null is no reference
    assert orphans(facts, ["k", "t"], dim, ["code", "type"]) == 1
    assert orphans(facts, ["k"], dim.head(0), ["code"]) == 3
    assert duplicate_keys(facts, ["id"]) == 1
    assert duplicate_keys(facts, ["id", "k"]) == 0


def test_missing_references_count_rows_not_values():
    """Distinct values are matched first; every row carrying a missing value is counted."""
    facts = pl.DataFrame({"k": [3, 3, 1, None, 4], "t": ["A", "A", "A", "A", None]})
    known = members(pl.DataFrame({"code": [1, 2, 1], "type": ["A", "B", "A"]}), ["k"], ["code"])
    assert sorted(known.absent(facts["k"]).to_list()) == [3, 4]  # distinct values
    assert missing_references(facts, ["k"], known) == 3  # 3, 3 and 4; null is no reference
    both = members(
        pl.DataFrame({"code": [1, 4], "type": ["A", None]}), ["k", "t"], ["code", "type"]
    )
    assert missing_references(facts, ["k", "t"], both) == 2  # (3, A) twice; (4, null) matches
