"""Keeping personal data out of everything a person or a log can see.

No CPR number or name may appear in a log line, an error text, Dagster metadata or a preview.
Messages are built from counts, column names and line numbers; anything echoed from a
third-party library passes through `redact` first.
"""

from __future__ import annotations

import re

# Six or more digits in a row (with an optional dash after the sixth): a CPR number or a part of one.
_CPR_LIKE = re.compile(r"\d{6}-?\d{0,4}")


def redact(text: str, limit: int = 500) -> str:
    """Mask every CPR-like digit run and cut the text to `limit` characters."""
    masked = _CPR_LIKE.sub("<skjult>", str(text))
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"


def safe_value(value: object, limit: int = 60) -> str:
    """A code-list value fit for a message: redacted and short."""
    return redact(repr(value), limit)


class PersonalDataSafeError(Exception):
    """An error whose text is known to carry no personal data."""


def masked(text: object, file: str, line: int | None = None) -> str:
    """Delivery-supplied text (a file name, an unknown code value, any free text) as shown in
    logs, metadata and errors: a placeholder naming where it came from, never the text itself
    (it may hold a CPR number or a name). `file` must be a name we chose or checked (a contract
    file name, a month folder), not the delivered text."""
    where = f"{file}, linje {line}" if line is not None else file
    return f"<leveret tekst, {len(str(text))} tegn: {where}>"
