"""The asset graph is pinned: every asset with its group and checks, and folder = layer = group."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from dfdg_assets.definitions import defs

PREFIX_LAYER = {
    "raw_": "raw",
    "stg_": "staging",
    "dim_": "dimensions",
    "fct_": "facts",
    "bdg_": "facts",
    "cube_": "cubes",
}
MAINTENANCE = {"beskaer_opbevaring", "duckdb_katalog"}

GRAPH = [
    ("bdg_samtale_deltager", "facts", ["fremmednoegler", "noegle_unik"]),
    ("beskaer_opbevaring", "maintenance", []),
    ("cube_benchmark", "cubes", ["afsloeringskontrol"]),
    ("dim_borger", "dimensions", ["fremmednoegler", "noegle_unik"]),
    ("dim_kommune", "dimensions", ["fremmednoegler", "noegle_unik"]),
    ("dim_organisation", "dimensions", ["fremmednoegler", "noegle_unik"]),
    ("dim_region", "dimensions", ["noegle_unik"]),
    ("dim_tid_dag", "dimensions", ["fremmednoegler", "noegle_unik"]),
    ("dim_tid_uge", "dimensions", ["noegle_unik"]),
    ("dim_uddannelse", "dimensions", ["noegle_unik"]),
    ("duckdb_katalog", "maintenance", []),
    ("fct_aktivitet_uge", "facts", ["fremmednoegler", "noegle_unik"]),
    ("fct_befolkning_16_66", "facts", ["fremmednoegler", "noegle_unik"]),
    ("fct_borger_maaned", "facts", ["noegle_unik"]),
    ("fct_borger_ydelse_maaned", "facts", ["noegle_unik"]),
    ("fct_borger_ydelse_uge", "facts", ["fremmednoegler", "noegle_unik"]),
    ("fct_samtale_uge", "facts", ["fremmednoegler", "noegle_unik"]),
    ("fct_visitation_uge", "facts", ["fremmednoegler", "noegle_unik"]),
    ("raw_afviste_raekker", "raw", ["ingen_afviste_raekker"]),
    ("raw_aktivitet", "raw", []),
    ("raw_borger", "raw", []),
    ("raw_organisation", "raw", []),
    ("raw_samtale", "raw", []),
    ("raw_samtale_deltager", "raw", []),
    ("raw_uddannelse", "raw", []),
    ("raw_visitation", "raw", ["kendte_kodevaerdier", "levering_rettidig"]),
    ("raw_ydelse", "raw", []),
    ("stg_aktivitet", "staging", []),
    ("stg_samtale", "staging", []),
    ("stg_samtale_deltager", "staging", []),
    ("stg_visitation", "staging", []),
    ("stg_visitationsforloeb", "staging", []),
    ("stg_ydelse", "staging", []),
]


def _layer(name: str) -> str:
    if name in MAINTENANCE:
        return "maintenance"
    for prefix, layer in PREFIX_LAYER.items():
        if name.startswith(prefix):
            return layer
    pytest.fail(f"{name} has no layer prefix")


def test_asset_graph_is_pinned():
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check in graph.asset_check_keys:
        checks.setdefault(check.asset_key.to_user_string(), []).append(check.name)
    actual = [
        (
            key.to_user_string(),
            graph.get(key).group_name,
            sorted(checks.get(key.to_user_string(), [])),
        )
        for key in sorted(graph.get_all_asset_keys())
    ]
    assert actual == GRAPH


def test_folder_equals_layer_equals_group():
    graph = defs.resolve_asset_graph()
    seen = set()
    for assets_def in defs.assets or []:
        module = assets_def.op.compute_fn.decorated_fn.__module__
        folder = module.split(".")[1]
        for key in assets_def.keys:
            name = key.to_user_string()
            seen.add(name)
            assert graph.get(key).group_name == folder == _layer(name), (name, module)
    assert seen == {name for name, _, _ in GRAPH}


def test_checks_of_monthly_assets_are_per_month():
    """A monthly asset's checks are partitioned like the asset (core/checks.py), so each month's
    status is its own; checks of unpartitioned assets and the overdue signal are not."""
    graph = defs.resolve_asset_graph()
    per_month = set()
    for check in graph.asset_check_keys:
        spec = graph.get_check_spec(check)
        asset_partitions = graph.get(check.asset_key).partitions_def
        if spec.partitions_def is not None:
            assert spec.partitions_def == asset_partitions, check
            per_month.add(f"{check.asset_key.to_user_string()}.{check.name}")
        else:
            assert asset_partitions is None or check.name == "levering_rettidig", check
    assert "cube_benchmark.afsloeringskontrol" in per_month
    assert "raw_afviste_raekker.ingen_afviste_raekker" in per_month
    assert "bdg_samtale_deltager.noegle_unik" in per_month
