"""The monthly report's chart: daily spend per source (stacked bars) and the month's cache savings, as PNG."""

from __future__ import annotations

import io
from datetime import timedelta

from kyc_core.monitoring.cost import MonthReport, month_bounds


def daily_spend_png(report: MonthReport) -> bytes:
    """A PNG of the month's daily spend per paid source, with cache savings in the title."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    start, _ = month_bounds(report.month)
    days = [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(report.days)]
    fig = Figure(figsize=(9, 4), dpi=100)
    ax = fig.subplots()
    bottom = [0.0] * len(days)
    colors = plt.get_cmap("tab10")
    for n, item in enumerate(s for s in report.sources if s.spend > 0):
        values = [item.daily.get(day, 0.0) for day in days]
        ax.bar(
            range(1, len(days) + 1),
            values,
            bottom=bottom,
            label=f"{item.source} ({item.spend:.2f} EUR)",
            color=colors(n % 10),
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xlabel(f"day of {report.month} (UTC)")
    ax.set_ylabel("EUR")
    ax.set_title(
        f"Daily spend per source: {report.total.spend:.2f} EUR; cache savings {report.total.savings:.2f} EUR"
    )
    ax.set_xlim(0.5, len(days) + 0.5)
    if any(bottom):
        ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
