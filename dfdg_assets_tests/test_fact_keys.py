"""Key and foreign-key checks of the facts (the checks on generated data: test_benchmark_asset)."""

import polars as pl

from dfdg_assets.facts.keys import duplicate_keys, orphans


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
