"""A delivery folder on disk: discovery, completeness, content hash and file-level checks (R12).

`read_delivery` either returns every file of the delivery as an all-text polars frame, or raises
`DeliveryRejected` naming the file, the fault and the line. It never returns part of a delivery.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from dfdg_assets.core.privacy import masked
from dfdg_assets.ingest import contract
from dfdg_assets.ingest.errors import DeliveryRejected

_MONTH_DIR = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_BOM = b"\xef\xbb\xbf"


MAX_NAME = 100  # longest file name a manifest entry may carry (the contract's are far shorter)


def delivery_months(inbox: Path) -> list[str]:
    """Months ('YYYY-MM') that have a delivery folder in the inbox, sorted."""
    if not inbox.is_dir():
        return []
    return sorted(p.name for p in inbox.iterdir() if p.is_dir() and _MONTH_DIR.match(p.name))


def invalid_folders(inbox: Path) -> list[str]:
    """Folders in the inbox whose name is not a valid 'YYYY-MM' (2020-13, 2021-9, anything else),
    shown as they are when they look like a month attempt, masked otherwise."""
    if not inbox.is_dir():
        return []
    out = []
    for p in sorted(inbox.iterdir(), key=lambda p: p.name):
        if p.is_dir() and not _MONTH_DIR.match(p.name) and not p.name.startswith("."):
            looks = re.fullmatch(r"[0-9]{1,4}-[0-9]{1,3}", p.name)
            out.append(p.name if looks else masked(p.name, "inbox"))
    return out


def _check_entry(folder: Path, month: str, name: object) -> None:
    """A manifest entry must name a plain file inside the delivery folder (R12)."""
    where = contract.MANIFEST
    if not isinstance(name, str) or not name:
        raise DeliveryRejected(month, where, "en post uden filnavn")
    shown = masked(name, where)
    if len(name) > MAX_NAME:
        raise DeliveryRejected(
            month, where, f"filnavnet i en post er over {MAX_NAME} tegn: {shown}"
        )
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise DeliveryRejected(month, where, f"en post er en absolut sti: {shown}")
    if ".." in name:
        raise DeliveryRejected(month, where, f"en post indeholder '..': {shown}")
    if any(c in name for c in ("/", "\\", "\0")):
        raise DeliveryRejected(month, where, f"en post indeholder et skilletegn for stier: {shown}")
    f = folder / name
    if f.is_symlink():
        target = f.resolve()
        if target.parent != folder.resolve():
            raise DeliveryRejected(
                month, where, f"en post peger ud af leveringsmappen (symbolsk link): {shown}"
            )


def manifest_hash(folder: Path) -> str | None:
    """SHA-256 of the manifest: it lists every file's hash, so it identifies the content."""
    f = folder / contract.MANIFEST
    return hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None


@dataclass(frozen=True)
class Completeness:
    """Whether a delivery has fully arrived (SPEC section 2), and why not."""

    month: str
    complete: bool
    reason: str = ""
    content_hash: str | None = None


def completeness(folder: Path) -> Completeness:
    """Cheap arrival check for the sensor: manifest present, every listed file with its hash and rows.

    A manifest that is present but faulty (not JSON, wrong data month, an entry that is absolute,
    holds '..' or a path separator, is overlong or points out of the folder) is not "still
    arriving": the delivery counts as complete, so its ingest runs and rejects it with the reason
    (R12), visible as a failed delivery. A corrected manifest has a new hash and loads again."""
    month = folder.name
    h = manifest_hash(folder)
    if h is None:
        return Completeness(month, False, "manifest.json mangler")
    try:
        manifest = _load_manifest(folder, month)
    except DeliveryRejected as e:
        return Completeness(month, True, e.fault, h)
    for name, entry in manifest["files"].items():
        f = folder / name
        if not f.is_file():
            return Completeness(month, False, f"{name} mangler", h)
        if _file_sha256(f) != str(entry.get("sha256", "")).lower():
            return Completeness(
                month, False, f"{name}: SHA-256 passer ikke (endnu ikke færdigkopieret?)", h
            )
    return Completeness(month, True, "", h)


def _file_sha256(f: Path) -> str:
    """SHA-256 of a file, read in blocks so a large file is never held whole in memory."""
    with f.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _load_manifest(folder: Path, month: str) -> dict:
    f = folder / contract.MANIFEST
    if not f.is_file():
        raise DeliveryRejected(month, contract.MANIFEST, "manifest mangler")
    try:
        manifest = json.loads(f.read_bytes().removeprefix(_BOM).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        line = getattr(e, "lineno", None)
        raise DeliveryRejected(
            month, contract.MANIFEST, "manifest kan ikke læses som JSON", line
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise DeliveryRejected(month, contract.MANIFEST, "manifest uden 'files'")
    if manifest.get("data_month") != month:
        raise DeliveryRejected(
            month,
            contract.MANIFEST,
            f"data_month {str(manifest.get('data_month'))[:10]!r} passer ikke til mappen {month}",
        )
    for name in manifest["files"]:
        _check_entry(folder, month, name)
    for name, entry in manifest["files"].items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("rows"), int)
            or not isinstance(entry.get("sha256"), str)
        ):
            raise DeliveryRejected(
                month, contract.MANIFEST, f"ufuldstændig post for {masked(name, contract.MANIFEST)}"
            )
    return manifest


@dataclass
class DeliveryFiles:
    """Every file of one delivery, parsed to all-text frames, plus what was noticed on the way."""

    month: str
    content_hash: str
    frames: dict[str, pl.DataFrame]
    delivered_rows: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def read_delivery(
    folder: Path,
    large: Callable[[contract.DeliveryFile, Path, dict], None] | None = None,
    limit: int | None = None,
) -> DeliveryFiles:
    """Check a delivery at file level and parse it (R12); raise `DeliveryRejected` on any fault.

    A file over `limit` bytes is handed to `large(spec, path, manifest entry)` in its turn
    instead of being read here (it is read in chunks, `ingest/chunked.py`)."""
    month = folder.name
    if not folder.is_dir():
        raise DeliveryRejected(month, str(month), "ingen levering for måneden")
    manifest = _load_manifest(folder, month)
    listed = manifest["files"]
    warnings = [
        f"{masked(p.name, f'mappen {month}')} står ikke i manifestet og ignoreres"
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != contract.MANIFEST and p.name not in listed
    ]
    frames: dict[str, pl.DataFrame] = {}
    rows: dict[str, int] = {}
    for spec in contract.FILES:
        if not spec.required_in(month):
            if spec.filename in listed:
                warnings.append(
                    f"{spec.filename} leveres først fra {spec.first_month} og ignoreres"
                )
            continue
        if spec.filename not in listed:
            raise DeliveryRejected(month, spec.filename, "filen står ikke i manifestet")
        path = folder / spec.filename
        if not path.is_file():
            raise DeliveryRejected(month, spec.filename, "filen mangler")
        entry = listed[spec.filename]
        if large is not None and limit is not None and path.stat().st_size > limit:
            large(spec, path, entry)
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"].lower():
            raise DeliveryRejected(month, spec.filename, "SHA-256 passer ikke med manifestet")
        df = parse_csv(month, spec, data)
        if df.height != entry["rows"]:
            raise DeliveryRejected(
                month,
                spec.filename,
                f"rækkeantal {df.height} passer ikke med manifestets {entry['rows']}",
            )
        frames[spec.name] = df
        rows[spec.name] = df.height
    return DeliveryFiles(month, manifest_hash(folder) or "", frames, rows, warnings)


def _decode(month: str, spec: contract.DeliveryFile, data: bytes) -> str:
    data = data.removeprefix(_BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DeliveryRejected(month, spec.filename, "ikke gyldig UTF-8", line) from None


def _header(month: str, spec: contract.DeliveryFile, text: str) -> list[str]:
    end = text.find("\n")
    first = (text if end < 0 else text[:end]).rstrip("\r")  # not a copy of the rest
    if not first.strip():
        raise DeliveryRejected(month, spec.filename, "tom fil eller tom overskriftslinje", 1)
    try:
        header = next(csv.reader([first], delimiter=contract.SEPARATOR, quotechar='"', strict=True))
    except csv.Error:
        raise DeliveryRejected(
            month, spec.filename, "overskriftslinjen kan ikke læses", 1
        ) from None
    header = [h.strip() for h in header]
    if len(header) == 1 and any(sep in first for sep in (",", "\t", "|")):
        raise DeliveryRejected(month, spec.filename, "forkert skilletegn (forventet ';')", 1)
    if len(set(header)) != len(header):
        raise DeliveryRejected(month, spec.filename, "en kolonne står to gange i overskriften", 1)
    missing = [c for c in spec.column_names if c not in header]
    if missing:
        raise DeliveryRejected(month, spec.filename, f"mangler kolonne(r): {', '.join(missing)}", 1)
    return header


def _check_field_counts(
    month: str, spec: contract.DeliveryFile, text: str, data: bytes, width: int
) -> bool:
    """Every record must have as many fields as the header (the CSV reader would pad or fail).

    Returns True when the line-by-line scan of a quote-free file was left to the reader: the
    file holds exactly `width - 1` separators per line, so a ragged line must have more fields
    than the header, which the reader refuses (`parse_csv` then finds the line)."""
    if '"' in text:
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=contract.SEPARATOR, quotechar='"'
        )
        start = 1  # the line the current record starts on
        try:
            for rec in reader:
                if rec and rec[-1].endswith("\n"):  # a quote opened and never closed
                    raise DeliveryRejected(
                        month, spec.filename, "et anførselstegn lukkes aldrig", start
                    )
                if len(rec) != width and rec:
                    spans = reader.line_num > start
                    fault = f"{len(rec)} felter, forventet {width}"
                    if spans:
                        fault += " (et anførselstegn lukkes ikke på linjen)"
                    raise DeliveryRejected(month, spec.filename, fault, start)
                start = reader.line_num + 1
        except csv.Error:
            raise DeliveryRejected(month, spec.filename, "ulæselig linje", start) from None
        return False
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    sep = contract.SEPARATOR.encode()
    end = len(data)
    while end and data[end - 1] == 10:
        end -= 1
    last = data[data.rfind(b"\n", 0, end) + 1 : end]  # the reader lets a last line end in ';'
    if data.count(sep) == (width - 1) * lines and last.count(sep) == width - 1:
        return True
    _raise_ragged(month, spec, data, width)
    return False


def _raise_ragged(month: str, spec: contract.DeliveryFile, data: bytes, width: int) -> None:
    bad = _ragged_line(np.frombuffer(data, dtype=np.uint8), width)
    if bad is not None:
        i, count = bad
        raise DeliveryRejected(month, spec.filename, f"{count} felter, forventet {width}", i + 1)


def _ragged_line(data: np.ndarray, width: int) -> tuple[int, int] | None:
    """The first non-empty line (0-based) of quote-free bytes whose field count is not `width`,
    with its count; vectorised over the positions of separators and line ends."""
    ends = np.flatnonzero(data == 10)
    if not len(ends) or ends[-1] != len(data) - 1:
        ends = np.append(ends, len(data))  # the last line has no line end
    seps = np.flatnonzero(data == ord(contract.SEPARATOR))
    counts = np.diff(np.searchsorted(seps, ends), prepend=0) + 1
    starts = np.concatenate(([0], ends[:-1] + 1))
    length = ends - starts
    cr = np.zeros(len(ends), dtype=bool)
    has = length > 0
    cr[has] = data[ends[has] - 1] == 13
    length = length - cr
    bad = np.flatnonzero((counts != width) & (length > 0))
    if not len(bad):
        return None
    return int(bad[0]), int(counts[bad[0]])


def parse_csv(month: str, spec: contract.DeliveryFile, data: bytes) -> pl.DataFrame:
    """Parse one delivery file into an all-text frame of the contract's columns plus `linje`.

    `linje` is the record's line in the file (the header is line 1). Empty fields are null.
    """
    text = _decode(month, spec, data)
    header = _header(month, spec, text)
    data = data.removeprefix(_BOM)
    deferred = _check_field_counts(month, spec, text, data, len(header))
    del text  # the bytes are valid UTF-8 now: the reader takes them as they are, no re-encode
    try:
        df = read_fields(data, header, has_header=True)
    except Exception:  # the reader's own message may echo field values
        if deferred:  # a line with more fields than the header: which one
            _raise_ragged(month, spec, data, len(header))
        raise DeliveryRejected(month, spec.filename, "filen kan ikke læses som CSV") from None
    return numbered_fields(df, spec, 2)


def read_fields(data: bytes, header: list[str], *, has_header: bool) -> pl.DataFrame:
    """The CSV bytes of a delivery file (or a chunk of one) as text columns named by `header`.
    Raises the reader's own error, whose message may echo field values: callers mask it."""
    return pl.read_csv(
        io.BytesIO(data),
        separator=contract.SEPARATOR,
        quote_char='"',
        infer_schema=False,
        has_header=has_header,
        new_columns=header,
        truncate_ragged_lines=False,
    )


def numbered_fields(df: pl.DataFrame, spec: contract.DeliveryFile, first_line: int) -> pl.DataFrame:
    """The contract's columns, trimmed, empty fields null, numbered by the file's line."""
    df = df.select(spec.column_names).with_columns(pl.all().str.strip_chars().replace("", None))
    return df.with_row_index("linje", offset=first_line).with_columns(
        pl.col("linje").cast(pl.Int32)
    )
