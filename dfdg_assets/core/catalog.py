"""What each table asset says about itself in the Dagster UI: its column schema
(`dagster/column_schema`, every column with a short description) and its grain, once, as
definition metadata. Built from the same pandera schemas the assets validate against."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import pandera.polars as pa

from dfdg_assets.core.grain import GRAIN
from dfdg_assets.core.schemas import TABLE_SCHEMAS, raw_table_schema, rejected_schema
from dfdg_assets.ingest import contract


def _schemas() -> dict[str, pa.DataFrameSchema]:
    # the schemas assets build when they run (the others exist from import on)
    from dfdg_assets.facts.schemas import participant_schema
    from dfdg_assets.staging.assets import RECORD_KEYS, staging_table_schema
    from dfdg_assets.staging.schemas import course_schema

    course_schema(), participant_schema()
    for name, key in RECORD_KEYS.items():
        staging_table_schema(name, list(key))
    staging_table_schema("samtale_deltager", None)
    out = dict(TABLE_SCHEMAS)
    for spec in contract.FILES:
        out[f"raw_{spec.name}"] = raw_table_schema(spec)
    out["raw_afviste_raekker"] = rejected_schema()
    return out


# columns of tables that are not in a data package (their descriptions are not in exports/docs.py)
_EXTRA = {
    "publiceret": "when this month's figures were first published in this revision (UTC)",
    "revision": "1 for the first publication of the month, + 1 each time its figures change",
    "nuts2": "the region's NUTS 2 code",
    "dato": "the calendar day",
    "ugedag": "ISO weekday, 1 = Monday .. 7 = Sunday",
    "fil": "the delivered file the row came from",
    "aarsag": "why the row was rejected (R12)",
    "raekke": "the row as delivered (personal data: under the data root only, never shown in the UI)",
}


def _type_name(col: pa.Column) -> str:
    return str(col.dtype).removeprefix("DataType(").removesuffix(")")


def column_schema(table: str) -> dg.TableSchema | None:
    """The table's columns with their type, nullability and description (None: not a table)."""
    from dfdg_assets.exports.docs import column_doc

    schema = _schemas().get(table)
    if schema is None:
        return None
    cols = []
    for name, col in schema.columns.items():
        try:
            text = column_doc(table, name)
        except KeyError:
            text = _EXTRA.get(name, "")
        cols.append(
            dg.TableColumn(
                name,
                _type_name(col),
                description=text or None,
                constraints=dg.TableColumnConstraints(nullable=bool(col.nullable)),
            )
        )
    unique = schema.unique or []
    return dg.TableSchema(
        columns=cols,
        constraints=dg.TableConstraints(other=[f"unique: {', '.join(unique)}"]) if unique else None,
    )


def describe(assets: Sequence) -> list:
    """The assets with `dagster/column_schema` and `grain` added to every table's spec."""
    grains = GRAIN

    def add(spec: dg.AssetSpec) -> dg.AssetSpec:
        table = spec.key.to_user_string()
        schema = column_schema(table)
        meta = dict(spec.metadata or {})
        if schema is not None:
            meta["dagster/column_schema"] = schema
        if table in grains:
            meta["grain"] = grains[table]
        return spec.replace_attributes(metadata=meta)

    return [a.map_asset_specs(add) if isinstance(a, dg.AssetsDefinition) else a for a in assets]
