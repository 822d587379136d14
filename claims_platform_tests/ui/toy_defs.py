"""A toy asset whose materializations carry the kinds of pictures the actuarial assets will:
a matplotlib PNG in Markdown as a data URI, a Markdown table, and numeric metadata that Dagster
plots across materializations. The UI tests load it in a real dagster-webserver."""

# No `from __future__ import annotations`: Dagster resolves the Config annotation at definition.
import base64
import io

import dagster as dg
from matplotlib.figure import Figure

CHART_LABEL = "pmpm_chart"
TABLE_LABEL = "pmpm_preview"
NUMBER_LABEL = "pmpm_usd"
ASSET_KEY = ["actuarial_toy", "pmpm_trend"]
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]


class ToyPmpmConfig(dg.Config):
    base_pmpm: float = 412.5


def png_chart_markdown(title: str, months: list[str], values: list[float]) -> str:
    """A line chart as Markdown with the PNG inlined, so it needs no file server."""
    # Figure, not pyplot: no global backend state, renders with Agg and needs no display.
    fig = Figure(figsize=(6, 3), dpi=100)
    ax = fig.subplots()
    ax.plot(months, values, marker="o", color="#4f43dd")
    ax.set_title(title)
    ax.set_ylabel("USD per member per month")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"![{title}](data:image/png;base64,{data})"


def markdown_table(months: list[str], values: list[float]) -> str:
    rows = "\n".join(f"| {m} | {v:,.2f} |" for m, v in zip(months, values, strict=True))
    return f"| month | pmpm_usd |\n| --- | ---: |\n{rows}"


@dg.asset(key=ASSET_KEY, group_name="actuarial_toy")
def pmpm_trend(config: ToyPmpmConfig) -> dg.MaterializeResult:
    values = [config.base_pmpm * (1 + 0.01 * i) for i in range(len(MONTHS))]
    return dg.MaterializeResult(
        metadata={
            CHART_LABEL: dg.MetadataValue.md(png_chart_markdown("PMPM trend", MONTHS, values)),
            TABLE_LABEL: dg.MetadataValue.md(markdown_table(MONTHS, values)),
            NUMBER_LABEL: dg.MetadataValue.float(values[-1]),
            "member_months": dg.MetadataValue.int(1200),
        }
    )


defs = dg.Definitions(assets=[pmpm_trend])
