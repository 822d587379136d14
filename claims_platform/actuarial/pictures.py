"""What an actuary would rather look at than read: charts, a preview table and plotted numbers
for each actuarial mart's materialization, built from the partition's rows.

Charts are PNGs embedded in Markdown (`Markdown` values) as data URIs (Dagster's asset page
renders them); numbers become float metadata, which the asset page plots across materializations
(claims_platform.orchestration.actuarial.assets turns these values into Dagster metadata). Every value is
an aggregate (money, member months, factors): nothing here names a member or a claim.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

Row = Mapping[str, Any]


class Markdown(str):
    """A value to render as Markdown (a chart or a table), not as plain text."""


# Readable at a glance: the latest incurred months and the first development months.
_SHOWN_MONTHS = 12


def _png_markdown(figure: Any, title: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=85, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"![{title}](data:image/png;base64,{encoded})"


def _pyplot() -> Any:
    # Imported when a materialization draws, not when definitions load; Agg needs no display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _month(value: Any) -> str:
    return value.strftime("%Y-%m") if isinstance(value, date) else str(value)[:7]


def _money(value: Any) -> str:
    return f"{float(value):,.0f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# Dagster's asset page shows a Markdown value inline below this many characters and behind a
# "Show Markdown" link above it: previews stay under it, charts (always larger) open on a click.
_INLINE_MARKDOWN = 1000


def _preview(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Markdown:
    """A table of the first rows that fit inline on the asset page."""
    shown = list(rows)
    while shown and len(_table(header, shown)) >= _INLINE_MARKDOWN:
        shown.pop()
    return Markdown(_table(header, shown))


def _by_line_of_business(rows: Sequence[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row["line_of_business"]].append(row)
    return dict(sorted(grouped.items()))


def triangle_metadata(
    triangle: Sequence[Row], factors: Sequence[Row], ibnr: Sequence[Row]
) -> dict[str, Any]:
    """A heatmap per line of business: cumulative paid by incurred x development month, shaded
    by the share of the incurred month's estimated ultimate, completion factors on the axis."""
    metadata: dict[str, Any] = {
        "rows": len(triangle),
        "paid_to_date_total": float(sum(float(r["incremental_paid"]) for r in triangle)),
    }
    if not triangle:
        return metadata
    plt = _pyplot()
    ultimates = {
        (r["line_of_business"], r["incurred_month"]): float(r["estimated_ultimate"]) for r in ibnr
    }
    completion = {
        (r["line_of_business"], r["development_month"]): r["completion_factor"] for r in factors
    }
    panels = _by_line_of_business(triangle)
    figure, axes = plt.subplots(
        # narrow enough (~1,000 px for three lines of business) for Dagster's Markdown dialog
        1,
        len(panels),
        figsize=(3.9 * len(panels), 4.4),
        squeeze=False,
        constrained_layout=True,
    )
    for axis, (lob, rows) in zip(axes[0], panels.items(), strict=True):
        months = sorted({r["incurred_month"] for r in rows})[-_SHOWN_MONTHS:]
        ages = list(range(len(months)))
        shade = [[float("nan")] * len(ages) for _ in months]
        for r in rows:
            if r["incurred_month"] in months and r["development_month"] < len(ages):
                i, d = months.index(r["incurred_month"]), r["development_month"]
                ultimate = ultimates.get((lob, r["incurred_month"])) or 0.0
                paid = float(r["cumulative_paid"])
                shade[i][d] = paid / ultimate if ultimate else float("nan")
                dark = shade[i][d] > 0.6
                axis.text(
                    d,
                    i,
                    f"{paid / 1000:,.0f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if dark else "black",
                )
        axis.imshow(shade, cmap="YlGnBu", vmin=0, vmax=1, aspect="auto")
        axis.set_yticks(range(len(months)), [_month(m) for m in months], fontsize=7)
        labels = []
        for d in ages:
            factor = completion.get((lob, d))
            labels.append(f"{d}\n{factor:.2f}" if factor is not None else str(d))
        axis.set_xticks(ages, labels, fontsize=6)
        axis.set_title(f"{lob}: cumulative paid ($K)", fontsize=9)
        axis.set_xlabel("development month / completion factor", fontsize=7)
    axes[0][0].set_ylabel("incurred month", fontsize=8)
    metadata["triangle"] = Markdown(
        "Cumulative paid by incurred and development month; shade = share of the estimated "
        "ultimate paid; under each development month its completion factor.\n\n"
        + _png_markdown(figure, "paid lag triangle")
    )
    plt.close(figure)
    latest = sorted(
        (r for r in triangle if r["is_latest_diagonal"]),
        key=lambda r: (r["incurred_month"], r["line_of_business"]),
        reverse=True,
    )
    metadata["preview"] = _preview(
        ["incurred", "line of business", "dev", "paid to date", "member months"],
        [
            (
                _month(r["incurred_month"]),
                r["line_of_business"],
                str(r["development_month"]),
                _money(r["cumulative_paid"]),
                str(r["member_months"]),
            )
            for r in latest
        ],
    )
    return metadata


def completion_factor_metadata(factors: Sequence[Row], ibnr: Sequence[Row]) -> dict[str, Any]:
    """Completion by development month per line of business, and the method's parameters."""
    metadata: dict[str, Any] = {"rows": len(factors)}
    if not factors:
        return metadata
    first = factors[0]
    metadata |= {
        "method": str(first["method"]),
        "history_months": int(first["history_months"]),
        "tail_factor": float(first["tail_factor"]),
    }
    latest = _latest_month_totals(ibnr)
    if latest is not None:
        metadata["completion_latest_month"] = float(latest["completion"])
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 3.6), constrained_layout=True)
    for lob, rows in _by_line_of_business(factors).items():
        rows = sorted(rows, key=lambda r: r["development_month"])[:_SHOWN_MONTHS]
        axis.plot(
            [r["development_month"] for r in rows],
            [r["completion_factor"] for r in rows],
            marker="o",
            markersize=3,
            label=lob,
        )
    axis.set_xlabel("development month")
    axis.set_ylabel("completion factor")
    axis.set_ylim(0, 1.05)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    rows = [
        (
            r["line_of_business"],
            str(r["development_month"]),
            f"{r['age_to_age_factor']:.4f}",
            f"{r['completion_factor']:.4f}" if r["completion_factor"] is not None else "",
            str(r["incurred_months_used"]),
        )
        for r in sorted(factors, key=lambda r: (r["line_of_business"], r["development_month"]))
        if r["development_month"] < 4
    ]
    metadata["completion_factors"] = Markdown(_png_markdown(figure, "completion factors"))
    metadata["preview"] = _preview(
        ["line of business", "dev", "age-to-age", "completion", "months used"], rows
    )
    plt.close(figure)
    return metadata


def _latest_month_totals(ibnr: Sequence[Row]) -> dict[str, float] | None:
    if not ibnr:
        return None
    month = max(r["incurred_month"] for r in ibnr)
    rows = [r for r in ibnr if r["incurred_month"] == month]
    paid = sum(float(r["paid_to_date"]) for r in rows)
    ultimate = sum(float(r["estimated_ultimate"]) for r in rows)
    member_months = sum(int(r["member_months"]) for r in rows)
    return {
        "completion": paid / ultimate if ultimate else 0.0,
        "ultimate_pmpm": ultimate / member_months if member_months else 0.0,
        "paid_pmpm": paid / member_months if member_months else 0.0,
    }


def ibnr_metadata(ibnr: Sequence[Row]) -> dict[str, Any]:
    """Paid to date and IBNR by incurred month, the PMPM trend (paid to date and estimated
    ultimate), a preview of the latest months, and the totals Dagster plots over time."""
    total_ibnr = float(sum(float(r["ibnr"]) for r in ibnr))
    metadata: dict[str, Any] = {
        "rows": len(ibnr),
        "ibnr_total": total_ibnr,
        "estimated_ultimate_total": float(sum(float(r["estimated_ultimate"]) for r in ibnr)),
    }
    latest = _latest_month_totals(ibnr)
    if latest is None:
        return metadata
    metadata |= {
        "latest_month_ultimate_pmpm": float(latest["ultimate_pmpm"]),
        "latest_month_paid_pmpm": float(latest["paid_pmpm"]),
        "latest_month_completion": float(latest["completion"]),
    }
    months = sorted({r["incurred_month"] for r in ibnr})[-_SHOWN_MONTHS:]
    paid = [sum(float(r["paid_to_date"]) for r in ibnr if r["incurred_month"] == m) for m in months]
    reserve = [sum(float(r["ibnr"]) for r in ibnr if r["incurred_month"] == m) for m in months]
    plt = _pyplot()
    figure, (bars, trend) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    labels = [_month(m) for m in months]
    bars.bar(labels, [p / 1000 for p in paid], label="paid to date")
    bars.bar(labels, [r / 1000 for r in reserve], bottom=[p / 1000 for p in paid], label="IBNR")
    bars.set_ylabel("$K")
    bars.set_title("Estimated ultimate by incurred month", fontsize=9)
    bars.tick_params(axis="x", labelrotation=60, labelsize=7)
    bars.legend(fontsize=7)
    for lob, rows in _by_line_of_business(ibnr).items():
        rows = [
            r
            for r in sorted(rows, key=lambda r: r["incurred_month"])
            if r["incurred_month"] in months
        ]
        x = [_month(r["incurred_month"]) for r in rows]
        line = trend.plot(
            x,
            [r["ultimate_pmpm"] or 0 for r in rows],
            marker="o",
            markersize=3,
            label=f"{lob} ultimate",
        )
        trend.plot(
            x,
            [
                float(r["paid_to_date"]) / r["member_months"] if r["member_months"] else 0
                for r in rows
            ],
            linestyle="--",
            color=line[0].get_color(),
            label=f"{lob} paid to date",
        )
    trend.set_title("PMPM trend: estimated ultimate vs paid to date", fontsize=9)
    trend.set_ylabel("$ per member per month")
    trend.tick_params(axis="x", labelrotation=60, labelsize=7)
    trend.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    chart = _png_markdown(figure, "IBNR and PMPM trend")
    plt.close(figure)
    preview = [
        (
            _month(r["incurred_month"]),
            r["line_of_business"],
            str(r["development_month"]),
            _money(r["paid_to_date"]),
            f"{r['completion_factor']:.3f}" if r["completion_factor"] is not None else "",
            _money(r["estimated_ultimate"]),
            _money(r["ibnr"]),
            f"{r['ultimate_pmpm']:,.2f}" if r["ultimate_pmpm"] is not None else "",
        )
        for r in sorted(
            ibnr, key=lambda r: (r["incurred_month"], r["line_of_business"]), reverse=True
        )
        if r["incurred_month"] in months[-4:]
    ]
    metadata["ibnr"] = Markdown(chart)
    metadata["preview"] = _preview(
        [
            "incurred",
            "line of business",
            "dev",
            "paid to date",
            "completion",
            "ultimate",
            "IBNR",
            "ultimate PMPM",
        ],
        preview,
    )
    return metadata
