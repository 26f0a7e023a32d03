"""The Dagster job `eksporter_datapakke`: one municipality's data package, launched from the UI.

An op job rather than an asset: a package is an order for a municipality, not a table of the
warehouse. It only reads the warehouse (no `dfdg/skriver` tag, so it never queues behind a
load); the storage replaces partitions atomically, so a package made while a load runs holds
each table either before or after it. Logs and metadata carry table names and row counts only.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from dfdg_assets.core.guard import personal_data_guard
from dfdg_assets.core.resources import DataRootResource
from dfdg_assets.exports.packages import export_package, read_manifest

EXPORT_JOB = "eksporter_datapakke"


class DatapakkeConfig(dg.Config):
    kommune: int = Field(description="The municipality's 3-digit code, e.g. 101")
    niveau: str = Field(description="datamart (dimensions, facts, benchmark) or dsa (raw rows)")
    fra: str = Field(description="First month, YYYY-MM (datamart: weeks; dsa: delivery months)")
    til: str = Field(description="Last month, YYYY-MM, inclusive")
    out: str | None = Field(
        default=None,
        description="Folder to write the package in (default: the data root's exports/)",
    )


@dg.op(name="eksporter", description="Write one municipality's data package (SPEC section 6).")
def eksporter(
    context: dg.OpExecutionContext, config: DatapakkeConfig, data_root: DataRootResource
) -> dg.Output[str]:
    with personal_data_guard():
        path = export_package(
            data_root.paths,
            config.kommune,
            config.niveau,
            config.fra,
            config.til,
            out=Path(config.out) if config.out else None,
        )
        rows = {name: t["rows"] for name, t in read_manifest(path)["tables"].items()}
    for name, n in rows.items():
        context.log.info(f"{name}: {n} rækker")
    context.log.info(f"Datapakke skrevet: {path.name}")
    return dg.Output(
        str(path),
        metadata={
            "pakke": dg.MetadataValue.path(str(path)),
            "kommune": config.kommune,
            "niveau": config.niveau,
            "periode": f"{config.fra}..{config.til}",
            "raekker": dg.MetadataValue.json(rows),
        },
    )


@dg.job(
    name=EXPORT_JOB,
    description="Data package (datapakke) for one municipality: datamart or dsa, months fra..til. "
    "Reads only; written under the data root's exports/ unless `out` is given.",
    executor_def=dg.in_process_executor,
)
def eksporter_datapakke():
    eksporter()
