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
    ("bdg_samtale_deltager", "facts", []),
    ("beskaer_opbevaring", "maintenance", []),
    ("cube_benchmark", "cubes", ["afsloeringskontrol"]),
    ("dim_borger", "dimensions", []),
    ("dim_kommune", "dimensions", []),
    ("dim_organisation", "dimensions", []),
    ("dim_region", "dimensions", []),
    ("dim_tid_dag", "dimensions", []),
    ("dim_tid_uge", "dimensions", []),
    ("dim_uddannelse", "dimensions", []),
    ("duckdb_katalog", "maintenance", []),
    ("fct_aktivitet_uge", "facts", ["fremmednoegler", "noegle_unik"]),
    ("fct_befolkning_16_66", "facts", []),
    ("fct_borger_ydelse_uge", "facts", []),
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
