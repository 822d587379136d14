"""The lag triangle of the simulator's own truth: paid amount by incurred and development month.

It shows the run-out the simulated claims carry (what `mart_claim_lag`, completion factors and IBNR
estimates work from) straight from the truth files, without the platform, so the platform's mart
can be compared with it:

    claims-platform simulate --out L --truth T --history-days 330
    python -m claims_platform.simulator.triangle T

Incurred month is the month of STATEMENT_FROM_DATE, development month the months from it to
PAID_DATE. Claims counted are final-action ones as in `mart_claim_lag` (CONTRACT §4): not a void
and not named as ORIGINAL_CLAIM_ID by a replacement or void. Only month totals are printed, never a
claim's values.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any


def _month(text: str) -> int:
    """Months since year 0 of an ISO date (so month differences are plain subtraction)."""
    return int(text[:4]) * 12 + int(text[5:7]) - 1


def _month_text(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def read_claims(truth_dir: str | Path) -> list[dict[str, Any]]:
    """Final rows of every claim in a truth directory (`CLAIM.final.jsonl`)."""
    with open(Path(truth_dir) / "CLAIM.final.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@dataclass
class Triangle:
    """Paid amounts and claim counts by (incurred month, development month), plus adjustments."""

    # The month of the first receipt: incurred months before it lack their early development
    # (it happened before the simulated history), so they are flagged rather than read as run-out.
    first_received: int | None = None
    paid: dict[tuple[int, int], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    count: Counter[tuple[int, int]] = field(default_factory=Counter)
    # Replacements (7) and voids (8) by months from their original's PAID_DATE to their receipt.
    adjustment_age: dict[str, Counter[int]] = field(
        default_factory=lambda: {"7": Counter(), "8": Counter()}
    )

    @property
    def incurred_months(self) -> list[int]:
        return sorted({m for m, _ in self.paid})

    @property
    def max_development(self) -> int:
        return max((d for _, d in self.paid), default=-1)

    def share_by_development(self, mature: int = 6) -> dict[int, float]:
        """Share of paid dollars by development month, over the incurred months observed whole
        (not before the history) for at least `mature` development months."""
        last = max((m + d for m, d in self.paid), default=0)
        start = self.first_received or 0
        shares: dict[int, Decimal] = defaultdict(Decimal)
        for (month, dev), amount in self.paid.items():
            if start <= month <= last - mature:
                shares[dev] += amount
        total = sum(shares.values(), Decimal(0))
        return {d: float(a / total) if total else 0.0 for d, a in sorted(shares.items())}


def build_triangle(claims: Iterable[Mapping[str, Any]]) -> Triangle:
    """The final-action paid triangle and the age of adjusted originals, from final claim rows."""
    claims = list(claims)
    by_id = {c["CLAIM_ID"]: c for c in claims}
    named = {c["ORIGINAL_CLAIM_ID"] for c in claims if c["ORIGINAL_CLAIM_ID"]}
    received = [c["RECEIVED_DATE"] for c in claims if c["RECEIVED_DATE"]]
    triangle = Triangle(first_received=_month(min(received)) if received else None)
    for c in claims:
        frequency = c["FREQUENCY_CODE"]
        if frequency in ("7", "8"):
            original = by_id.get(c["ORIGINAL_CLAIM_ID"])
            if original is not None and original["PAID_DATE"] and c["RECEIVED_DATE"]:
                age = _month(c["RECEIVED_DATE"]) - _month(original["PAID_DATE"])
                triangle.adjustment_age[frequency][age] += 1
        if frequency == "8" or c["CLAIM_ID"] in named or not c["PAID_DATE"]:
            continue
        incurred = _month(c["STATEMENT_FROM_DATE"])
        cell = (incurred, _month(c["PAID_DATE"]) - incurred)
        triangle.paid[cell] += Decimal(c["TOTAL_PAID"])
        triangle.count[cell] += 1
    return triangle


def format_triangle(triangle: Triangle) -> str:
    """A plain-text table: one row per incurred month, one column per development month ($)."""
    devs = range(triangle.max_development + 1)
    width = 9
    lines = ["incurred " + "".join(f"{'dev ' + str(d):>{width}}" for d in devs) + f"{'total':>11}"]
    for month in triangle.incurred_months:
        cells = [triangle.paid.get((month, d)) for d in devs]
        total = sum((c for c in cells if c is not None), Decimal(0))
        truncated = triangle.first_received is not None and month < triangle.first_received
        lines.append(
            f"{_month_text(month) + ('*' if truncated else ''):<9}"
            + "".join(f"{'' if c is None else f'{c:,.0f}':>{width}}" for c in cells)
            + f"{total:>11,.0f}"
        )
    shares = triangle.share_by_development()
    lines.append(
        f"{'share':<9}" + "".join(f"{shares.get(d, 0.0):>{width}.1%}" for d in devs) + f"{1:>11.0%}"
    )
    lines.append("share: of paid dollars, incurred months with 6+ months of development")
    if triangle.first_received is not None and triangle.incurred_months[:1] < [
        triangle.first_received
    ]:
        lines.append("* incurred before the simulated history: early development not simulated")
    for frequency, label in (("7", "replacements"), ("8", "voids")):
        ages = triangle.adjustment_age[frequency]
        if ages:
            spread = ", ".join(f"{age}: {n}" for age, n in sorted(ages.items()))
            lines.append(f"{label} by months since the original was paid: {spread}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m claims_platform.simulator.triangle",
        description="Print the paid lag triangle (incurred x development month) of a simulator "
        "truth directory (claims-platform simulate --truth DIR).",
    )
    parser.add_argument("truth", help="truth directory written by the simulator")
    args = parser.parse_args(argv)
    triangle = build_triangle(read_claims(args.truth))
    print(format_triangle(triangle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
