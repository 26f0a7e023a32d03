"""Data packages (datapakker, SPEC section 6): a municipality's own data as Parquet and CSV.

`packages` is the pure logic (no Dagster: the CLI imports it); `jobs` is the Dagster job
`eksporter_datapakke` an operator launches from the UI.
"""

from dfdg_assets.exports.packages import ExportError, export_package, read_manifest

__all__ = ["ExportError", "export_package", "read_manifest"]
