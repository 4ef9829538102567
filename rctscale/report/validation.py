"""The validation report: a self-contained HTML view of :func:`rctscale.analysis.validate_sample` results.

It computes nothing: every number shown comes from the results dict, so the JSON and the
HTML always agree.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jinja2
import plotly.graph_objects as go
import plotly.offline

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("rctscale.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
        return text.replace("-", "−")
    return str(value)


_environment.filters["num"] = _fmt
_environment.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f} %"

# The usual cutoffs for CFA fit (Hu & Bentler, 1999): shown beside each index.
FIT_CUTOFFS = {"cfi": (">=", 0.95), "tli": (">=", 0.95), "rmsea": ("<=", 0.06), "srmr": ("<=", 0.08)}


def _figure_html(figure: go.Figure, name: str) -> str:
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "svg", "filename": name},
              "modeBarButtonsToAdd": ["toImage"]}
    return plotly.offline.plot(figure, output_type="div", include_plotlyjs=False, config=config)


def _scree_figure(parallel: dict[str, Any]) -> str | None:
    observed = parallel.get("observed_components") or parallel.get("observed")
    if not isinstance(observed, list):
        return None
    figure = go.Figure()
    x = list(range(1, len(observed) + 1))
    figure.add_scatter(x=x, y=observed, mode="lines+markers", name="observed (components)")
    for key, label in (("simulated_components", "simulated 95th percentile"),
                       ("resampled_components", "resampled 95th percentile")):
        if isinstance(parallel.get(key), list):
            figure.add_scatter(x=x, y=parallel[key], mode="lines", name=label, line={"dash": "dash"})
    figure.update_layout(title="Scree plot with parallel analysis", xaxis_title="component",
                         yaxis_title="eigenvalue", template="simple_white", height=380)
    return _figure_html(figure, "scree")


def _distribution_figure(items: dict[str, Any], scale_values: list[int], labels: list[str]) -> str | None:
    if not items or "error" in items:
        return None
    ids = list(items)
    figure = go.Figure()
    for value, label in zip(scale_values, labels, strict=True):
        figure.add_bar(y=ids, x=[items[i].get(f"p{value}", 0) for i in ids], name=f"{value} {label}",
                       orientation="h")
    figure.update_layout(barmode="stack", title="Answer distribution per item", xaxis_tickformat=".0%",
                         template="simple_white", height=max(300, 16 * len(ids) + 120),
                         yaxis={"autorange": "reversed"})
    return _figure_html(figure, "item-distributions")


def render_validation_report(results: dict[str, Any], *, title: str | None = None) -> str:
    """Render the results of a validation run as one self-contained HTML page."""
    form = results.get("form", {})
    scale = results.get("response_scale", {"values": [1, 2, 3, 4, 5],
                                           "labels": ["Never", "Rarely", "Sometimes", "Often", "Always"]})
    figures = {
        "scree": _scree_figure(results.get("parallel_analysis") or {}),
        "distributions": _distribution_figure(results.get("items") or {}, scale["values"], scale["labels"]),
    }
    template = _environment.get_template("validation.html.j2")
    return template.render(
        title=title or f"Validation report: {form.get('title', form.get('id', ''))}",
        results=results, figures=figures, cutoffs=FIT_CUTOFFS,
        plotly_js=plotly.offline.get_plotlyjs(),
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        results_json=json.dumps(results, indent=2, default=str),
    )
