"""The raw layer's checks, one verdict per delivery month (counts, files and reasons; never a row):

- `ingen_afviste_raekker`: WARN when a loaded delivery had rows rejected by row-level faults
  (R12): below 1 % of every file the delivery is loaded and the rejections are informational;
  a delivery accepted over 1 % by run config is loaded too (the operator decided) and stays WARN.
  ERROR when the month's delivery was not loaded: held back (over 1 % of a file rejected) or
  rejected by a file-level fault. The operator must act (a corrected delivery, or accept it).
- `kendte_kodevaerdier`: WARN when a loaded delivery carries values outside the known value lists.
"""

from __future__ import annotations

import dagster as dg

from dfdg_assets.core.checks import ERROR, WARN, Verdict
from dfdg_assets.ingest.errors import DeliveryHeld
from dfdg_assets.raw.ingest import IngestedDelivery

UNKNOWN_VALUES = "ukendte værdier"


def rejected_rows(d: IngestedDelivery) -> Verdict:
    """The rejected rows of a loaded delivery."""
    per_file = {f: s["afvist"] for f, s in sorted(d.stats.items()) if s["afvist"]}
    share = {
        f: round(100 * s["afvist"] / max(s["leveret"], 1), 2)
        for f, s in sorted(d.stats.items())
        if s["afvist"]
    }
    what = ", ".join(f"{f}: {n} ({share[f]} %)" for f, n in per_file.items())
    accepted = " — accepteret trods over 1 % (run config)" if d.accepted_over_threshold else ""
    return Verdict(
        passed=d.rejected_total == 0,
        severity=WARN,
        description=None
        if not d.rejected_total
        else f"{d.month}: {d.rejected_total} rækker afvist ({what}){accepted}",
        metadata={
            "maaned": d.month,
            "afviste_raekker": d.rejected_total,
            "afvist_pr_fil": per_file,
            "procent_afvist_pr_fil": share,
            "accepteret_over_1_procent": d.accepted_over_threshold,
        },
    )


def not_loaded(month: str, error: Exception) -> Verdict:
    """A delivery held back by the 1 % rule or rejected by a file-level fault (the message is
    personal-data safe: file, line, fault)."""
    held = isinstance(error, DeliveryHeld)
    return Verdict(
        passed=False,
        severity=ERROR,
        description=f"{month}: {'holdt tilbage' if held else 'ikke indlæst'}: {error}",
        metadata={
            "maaned": month,
            "holdt_tilbage": held,
            **(
                {"afvist_pr_fil": {f: rej for f, (rej, _) in sorted(error.over.items())}}
                if isinstance(error, DeliveryHeld)
                else {}
            ),
        },
    )


def known_values(d: IngestedDelivery) -> Verdict:
    unknown = [w for w in d.warnings if UNKNOWN_VALUES in w]
    return Verdict(
        passed=not unknown,
        severity=WARN,
        description=None if not unknown else f"{d.month}: {len(unknown)} filer med ukendte værdier",
        metadata={
            "maaned": d.month,
            "advarsler": dg.MetadataValue.md("\n".join(f"- {w}" for w in unknown[:50]) or "ingen"),
        },
    )
