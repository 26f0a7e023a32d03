"""Errors raised by ingestion. Their texts name files, faults, columns and lines, never values."""

from __future__ import annotations

from dfdg_assets.core.privacy import PersonalDataSafeError, redact


class DeliveryRejected(PersonalDataSafeError):
    """A file-level fault (R12): the whole delivery is rejected and nothing of it is published."""

    def __init__(self, month: str, file: str, fault: str, line: int | None = None):
        self.month, self.file, self.fault, self.line = month, file, redact(fault), line
        where = f", linje {line}" if line is not None else ""
        super().__init__(f"Levering {month} afvist: {file}{where}: {self.fault}")


class DeliveryHeld(PersonalDataSafeError):
    """More than 1 % of a file's rows were rejected: the delivery is held back until accepted."""

    def __init__(self, month: str, over: dict[str, tuple[int, int]]):
        self.month, self.over = month, over
        parts = ", ".join(
            f"{f}: {rej} af {rows} rækker afvist ({100 * rej / max(rows, 1):.2f} %)"
            for f, (rej, rows) in sorted(over.items())
        )
        super().__init__(
            f"Levering {month} holdt tilbage: over 1 % afviste rækker ({parts}). "
            "Accepter den med run config `accepter_afviste_raekker: true` på raw_levering."
        )
