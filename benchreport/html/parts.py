"""The page's pieces, shared with compare's page (benchreport.comparehtml): a chart's section, tables,
figures as text, the page's head with plotly.js embedded once, writing it whole.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchreport.fmt import DASH


PLOT_CONFIG = {"displaylogo": False, "responsive": True}
#: How hover labels print a figure: as summary.json has it (up to 3 decimals, trailing zeros dropped;
#: d3-format), not rounded to the axis' tick precision.
EXACT = ":.3~f"


@dataclass
class Chart:
    """One section of the page: a figure (None: nothing to draw, `absent` says why) and its table."""

    key: str
    title: str
    how: str
    figure: Any = None
    table: str = ""
    absent: str | None = None
    #: the mode labels this chart draws (the page's test looks for them in the rendered chart)
    modes: list[str] = field(default_factory=list)
    #: charts of one family (the sweep's two, the latency charts) share a heading and `how`
    family: str | None = None


def error_bars(medians: list[float], lows: list[float], highs: list[float], runs: list[int],
               color: str | None = "black", thickness: float = 1.2) -> dict[str, Any]:
    """Plotly's error_y for a min–max around each median; hidden when no point had 2 or more runs
    (a single run's range is its own value: plotly would draw a flat cap on every bar)."""
    out = dict(type="data", symmetric=False, visible=any(n > 1 for n in runs), thickness=thickness,
               array=[h - m for m, h in zip(medians, highs)], arrayminus=[m - lo for m, lo in zip(medians, lows)])
    return {**out, "color": color} if color else out


def figure(value: Any, digits: int = 3) -> str:
    """A figure as it is (up to `digits` decimals, trailing zeros dropped); a dash for None."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return DASH
        text = f"{value:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def span(low: Any, high: Any) -> str:
    return DASH if low is None or high is None else f"{figure(low)}–{figure(high)}"


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


#: The class of a right-aligned (numeric) cell.
RIGHT = ' class="r"'


def table(headers: list[str], rows: Iterable[list[Any]], right_from: int = 1,
          caption: str | None = None, right: Sequence[bool] | None = None) -> str:
    """A plain HTML table; cells are escaped, columns from `right_from` on right-aligned (or those
    `right` marks, one flag per column)."""
    flags = list(right) if right is not None else [i >= right_from for i in range(len(headers))]
    head = "".join(f"<th{RIGHT if flags[i] else ''}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{RIGHT if flags[i] else ''}>{escape(c)}</td>" for i, c in enumerate(row))
        + "</tr>" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
p.meta { color: #555; margin-top: 0; } p.how { color: #444; max-width: 75em; }
.missing { background: #fff8e1; border: 1px solid #ffcc80; padding: .4em 1em; border-radius: 4px; }
.missing.none { background: #f1f8e9; border-color: #c5e1a5; }
p.absent { background: #f5f5f5; border-left: 4px solid #bdbdbd; padding: .6em 1em; }
h3 { margin-top: 1.2em; }
table { border-collapse: collapse; font-size: 13px; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; } th { background: #f5f5f5; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
tr.group td { background: #eef3fb; font-weight: bold; }
details { margin: .4em 0; } summary { cursor: pointer; color: #1a5fb4; }
table.thresholds tr.failed td { background: #fdecea; } table.thresholds tr.failed td:first-child { color: #b71c1c; font-weight: bold; }
table.thresholds tr.passed td:first-child { color: #2e7d32; }
"""


def section(chart: Chart, first_of_family: bool = True) -> str:
    """A chart's <section>: heading, how to read it (once per family), the figure or why not, its numbers."""
    how = f"<p class=\"how\">{escape(chart.how)}</p>"
    if chart.family is None or chart.family == chart.title:
        head = f"<h2>{escape(chart.title)}</h2>{how}"
    else:
        head = (f"<h2>{escape(chart.family)}</h2>{how}" if first_of_family else "") + f"<h3>{escape(chart.title)}</h3>"
    if chart.figure is None:
        body = f"<p class=\"absent\">{escape(chart.absent or 'nothing to draw')}</p>"
    else:
        body = chart.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{chart.key}",
                                    config=PLOT_CONFIG)
    numbers = f"<details><summary>The numbers in this chart</summary>{chart.table}</details>" if chart.table else ""
    state = "chart-absent" if chart.figure is None else "chart-drawn"
    return (f"<section class=\"chart {state}\" id=\"{escape(chart.key)}\" data-chart=\"{escape(chart.key)}\" "
            f"data-modes=\"{escape(json.dumps(chart.modes))}\">{head}{body}{numbers}</section>")


def head(title: str) -> list[str]:
    """A page's start, to its <body>: the title, the style and plotly.js embedded once."""
    from plotly.offline import get_plotlyjs

    return [
        "<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">", f"<title>{escape(title)}</title>",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<style>{STYLE}</style>",
        # plotly's own offline embedding: its config first (no MathJax from a CDN), then plotly.js, once
        "<script type=\"text/javascript\">window.PlotlyConfig = {MathJaxConfig: 'local'};</script>",
        f"<script type=\"text/javascript\">{get_plotlyjs()}</script>",
        "</head><body>"]


def write_text(path: Path, text: str) -> Path:
    """Write a page whole (a temporary file renamed over it): a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
