"""The validation report: a self-contained HTML view of :func:`rctscale.analysis.run_plan` results.

It computes nothing: every number, flag and verdict shown comes from the results dict, so the
JSON and the HTML always agree (elements that show a number carry a ``data-json`` pointer to it,
which the tests follow). plotly.js is embedded once; each figure's data sit beside it as JSON and
one script draws them all, with modebar buttons to download each figure as PNG or SVG.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import jinja2
import plotly.colors
import plotly.graph_objects as go
import plotly.offline

from rctscale.report.formatting import bounded, install_filters, number, p_value, percent

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("rctscale.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
install_filters(_environment)

# The scree plot shows the leading eigenvalues only: the elbow is what a reader looks for, and
# a hundred near-zero values would flatten it. The JSON holds them all.
SCREE_POINTS = 30
FIGURE_FONT = {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12, "color": "#1d1d1f"}
STEP_NAMES = {"configural": "Configural", "metric": "Metric (loadings)", "scalar": "Scalar",
              "strict": "Strict (residuals)", "thresholds": "Thresholds"}


def _ok(section: Any) -> bool:
    return isinstance(section, dict) and "error" not in section


def _figure(figure: go.Figure, name: str, caption: str) -> dict[str, str]:
    figure.update_layout(template="simple_white", font=FIGURE_FONT, margin={"l": 60, "r": 20, "t": 30, "b": 50})
    # "</" would end the surrounding <script> element early
    spec = figure.to_json().replace("</", "<\\/")
    return {"name": name, "caption": caption, "spec": spec}


def _distribution_figure(results: dict[str, Any]) -> dict[str, str] | None:
    items = results.get("items")
    if not _ok(items):
        return None
    scale = results["response_scale"]
    ids = list(items)
    colours = plotly.colors.sample_colorscale("RdBu", [i / max(len(scale["values"]) - 1, 1)
                                                       for i in range(len(scale["values"]))])
    figure = go.Figure()
    for value, label, colour in zip(scale["values"], scale["labels"], colours, strict=True):
        figure.add_bar(y=ids, x=[items[i].get(f"p{value}") for i in ids], name=f"{value} {label}", orientation="h",
                       marker_color=colour, hovertemplate="%{y}: %{x:.1%}<extra>" + label + "</extra>")
    figure.update_layout(barmode="stack", xaxis={"tickformat": ".0%", "title": "share of answers", "range": [0, 1]},
                         yaxis={"autorange": "reversed", "dtick": 1, "tickfont": {"size": 10}},
                         height=max(320, 15 * len(ids) + 140),
                         legend={"orientation": "h", "y": 1.0, "yanchor": "bottom"})
    return _figure(figure, "item-distributions",
                   "Share of answers in each response option, per item (raw answers, before reverse keying).")


def _scree_figure(results: dict[str, Any]) -> dict[str, str] | None:
    parallel = results.get("parallel_analysis")
    if not _ok(parallel):
        return None
    eigen = parallel["eigenvalues"]
    shown = min(len(eigen["number"]), SCREE_POINTS)
    x = eigen["number"][:shown]
    figure = go.Figure()
    series = [("observed_components", "observed (components)", "solid", "#1f3a5f"),
              ("observed_factors", "observed (factors)", "solid", "#b35c00"),
              ("simulated_components", "simulated 95th percentile (components)", "dash", "#1f3a5f"),
              ("simulated_factors", "simulated 95th percentile (factors)", "dash", "#b35c00"),
              ("resampled_components", "resampled 95th percentile (components)", "dot", "#1f3a5f")]
    for key, label, dash, colour in series:
        if key in eigen:
            mode = "lines+markers" if key.startswith("observed") else "lines"
            figure.add_scatter(x=x, y=eigen[key][:shown], name=label, mode=mode,
                               line={"dash": dash, "color": colour})
    figure.update_layout(xaxis={"title": "number", "dtick": 1 if shown <= 20 else 5},
                         yaxis={"title": "eigenvalue"}, height=400,
                         legend={"x": 0.98, "xanchor": "right", "y": 0.98})
    total = len(eigen["number"])
    which = f"the first {shown} of {total} eigenvalues" if shown < total else f"all {total} eigenvalues"
    return _figure(figure, "scree-parallel-analysis",
                   f"Scree plot with parallel analysis ({which}). A factor counts while its observed eigenvalue "
                   "lies above the simulated one.")


def _factor_label(factor: str, efa: dict[str, Any]) -> str:
    match = efa["factor_scales"].get(factor)
    return f"{factor} ({match['scale']})" if match else factor


def _efa_figure(results: dict[str, Any]) -> dict[str, str] | None:
    efa = results.get("efa")
    if not _ok(efa):
        return None
    loadings = efa["loadings"]
    items = list(loadings)
    factors = list(loadings[items[0]])
    z = [[loadings[i][f] for f in factors] for i in items]
    # a short colour bar at the top: a full-height one would span all 117 rows of the research form
    colorbar = {"title": {"text": "loading"}, "thickness": 12, "len": 260, "lenmode": "pixels", "y": 1,
                "yanchor": "top"}
    figure = go.Figure(go.Heatmap(
        z=z, x=[_factor_label(f, efa) for f in factors], y=items, zmin=-1, zmax=1, zmid=0, colorscale="RdBu",
        texttemplate="%{z:.2f}", textfont={"size": 9}, colorbar=colorbar,
        hovertemplate="%{y} on %{x}: %{z:.3f}<extra></extra>", xgap=1, ygap=1))
    figure.update_layout(height=max(320, 15 * len(items) + 120), yaxis={"autorange": "reversed", "dtick": 1,
                                                                         "tickfont": {"size": 10}},
                         xaxis={"side": "top"})
    return _figure(figure, "efa-loadings", "EFA pattern loadings (blue positive, red negative).")


def _irt_figures(results: dict[str, Any]) -> list[dict[str, str]]:
    irt = results.get("irt") or {}
    fitted = {scale: entry for scale, entry in irt.items() if _ok(entry)}
    if not fitted:
        return []
    figures = []
    overview = go.Figure()
    for scale, entry in fitted.items():
        overview.add_scatter(x=entry["theta"], y=entry["test_information"], name=scale, mode="lines")
    overview.update_layout(xaxis={"title": "θ (trait level, SD units)"}, yaxis={"title": "test information"},
                           height=380)
    figures.append(_figure(overview, "irt-test-information",
                           "Test information of each scale (graded response model). The standard error of θ is "
                           "about 1/√information."))
    for scale, entry in fitted.items():
        figure = go.Figure()
        for item, values in entry["item_information"].items():
            figure.add_scatter(x=entry["theta"], y=values, name=item, mode="lines", line={"width": 1.5})
        figure.update_layout(xaxis={"title": "θ"}, yaxis={"title": "item information"}, height=360,
                             legend={"font": {"size": 10}})
        figures.append(_figure(figure, f"irt-item-information-{scale}", f"Item information curves: {scale}."))
    return figures


# ------------------------------------------------------------------------------- plain language


def _reason(flag: dict[str, Any]) -> str:
    """One review reason in words, from a flag the analysis recorded."""
    rule, value, scale, detail = flag["rule"], flag["value"], flag["scale"], flag["detail"]
    if rule == "floor_ceiling":
        return f"{percent(value)} of the answers at the {detail} (> 15 %)"
    if rule == "missing":
        return f"{percent(value)} of the answers missing (> 5 %)"
    if rule == "item_rest":
        return f"item-rest r = {bounded(value)} in {scale} (< .30)"
    if rule == "alpha_if_dropped":
        return f"alpha of {scale} rises to {bounded(value, 3)} without it (from {bounded(detail, 3)})"
    if rule == "efa_weak":
        return f"largest EFA loading {bounded(value)} on {detail} (|loading| < .40)"
    if rule == "efa_cross":
        return f"EFA loadings of .30 or more on {' and '.join(detail)} (cross-loading)"
    if rule == "cfa_weak":
        return f"standardized CFA loading {bounded(value)} on {detail} (< .40)"
    if rule == "irt_low_a":
        return f"IRT discrimination a = {number(value)} in {scale} (< 0.65)"
    return rule


def _statement(statement: dict[str, Any], results: dict[str, Any]) -> dict[str, str]:
    """A topic's verdict as a heading and a sentence, from the facts the analysis recorded."""
    topic, status = statement["topic"], statement["status"]
    if topic == "reliability":
        facts = [s for s in statement["scales"] if "error" not in s]
        if status == "not computed":
            return {"topic": "Reliability", "status": status, "text": "Reliability could not be computed."}
        if status == "holds":
            lowest = min(facts, key=lambda s: min(v for v in (s["alpha"], s["omega_total"]) if v is not None))
            text = (f"Every scale has alpha and omega total of at least .70 (lowest: {lowest['scale']}, "
                    f"α = {bounded(lowest['alpha'])}, ω = {bounded(lowest['omega_total'])}).")
        else:
            low = [f"{s['scale']} (α = {bounded(s['alpha'])}, ω = {bounded(s['omega_total'])})"
                   for s in facts if not s["meets"]]
            text = f"Below .70: {', '.join(low)}. Scores of these scales are too noisy for decisions about individuals."
        return {"topic": "Reliability", "status": status, "text": text}
    if topic == "kmo":
        if status == "not computed":
            return {"topic": "Sampling adequacy", "status": status,
                    "text": "KMO and Bartlett's test could not be computed."}
        facts = (f"KMO = {bounded(statement['kmo'])}, Bartlett's χ²({number(statement['bartlett_df'])}) = "
                 f"{number(statement['bartlett_chisq'], 1)}, p {_p_phrase(statement['bartlett_pvalue'])}")
        text = (f"The items suit factor analysis: {facts}." if status == "holds" else
                f"Factor analysis of these items is doubtful: {facts} (wanted: KMO ≥ .60, p < .05).")
        return {"topic": "Sampling adequacy", "status": status, "text": text}
    if topic == "dimensionality":
        if status == "not computed":
            return {"topic": "Dimensionality", "status": status, "text": "Parallel analysis could not be computed."}
        k, scales = statement["n_factors"], statement["n_scales"]
        text = (f"Parallel analysis suggests {k} factor{'s' * (k != 1)}, as many as the plan has scales." if
                status == "holds" else
                f"Parallel analysis suggests {k} factor{'s' * (k != 1)}, but the plan has {scales} scales: see in "
                "the EFA loadings how the items group.")
        return {"topic": "Dimensionality", "status": status, "text": text}
    if topic == "cfa_fit":
        if status == "not computed":
            error = (results.get("cfa") or {}).get("error", "")
            return {"topic": "CFA fit", "status": status, "text": f"The CFA could not be fitted. {error}".strip()}
        parts = []
        for index, verdict in statement["verdicts"].items():
            shown = bounded(verdict["value"], 3 if index in ("rmsea", "srmr") else 2)
            sign = "≥" if verdict["direction"] == ">=" else "≤"
            mark = "" if verdict["meets"] else f" (not {sign} {bounded(verdict['cutoff'])})"
            parts.append(f"{index.upper()} = {shown}{mark}")
        lead = ("The model fits by all four criteria" if status == "holds" else "The model misses some criteria")
        converged = "" if statement["converged"] else " The estimation did not converge: do not trust these numbers."
        return {"topic": "CFA fit", "status": status,
                "text": f"{lead} ({statement['estimator']}): {', '.join(parts)}.{converged}"}
    if topic == "invariance":
        group = statement["group"]
        if status == "not computed":
            error = (results.get("invariance") or {}).get("error", "")
            return {"topic": "Invariance", "status": status,
                    "text": f"Invariance across {group} could not be tested. {error}".strip()}
        steps = statement["steps"]
        if status == "holds":
            text = (f"Measurement invariance across {group} holds up to the {steps[-1]['step']} step "
                    "(every ΔCFI ≥ −.01): scale means can be compared between the groups.")
        else:
            failing = statement["first_failing"]
            held = [s["step"] for s in steps[:[s["step"] for s in steps].index(failing)]]
            below = f"holds up to the {held[-1]} step; the" if held else "does not hold beyond configural: the"
            delta = next(s["delta_cfi"] for s in steps if s["step"] == failing)
            text = (f"Measurement invariance across {group} {below} {failing} step does not "
                    f"(ΔCFI = {bounded(delta, 3)}). Compare the groups with caution beyond that level.")
        return {"topic": "Invariance", "status": status, "text": text}
    if topic == "items":
        n, total = statement["n_flagged"], statement["n_items"]
        text = ("No item trips a review rule." if n == 0 else
                f"{n} of {total} items trip at least one review rule; they are listed below with the reasons.")
        return {"topic": "Items", "status": status, "text": text}
    return {"topic": topic, "status": status, "text": ""}


def _p_phrase(value: float | None) -> str:
    text = p_value(value)
    return text if text.startswith("<") else f"= {text}"


def _irt_columns(parameters: dict[str, dict[str, Any]]) -> list[str]:
    """The IRT-metric columns (a, b1, b2, ...) of a parameter table; d1.. restate them in another metric."""
    first = next(iter(parameters.values()))
    return [c for c in first if re.fullmatch(r"a|b\d+", c)]


def render_validation_report(results: dict[str, Any], *, title: str | None = None) -> str:
    """Render the results of a validation run as one self-contained HTML page."""
    figures = {
        "distributions": _distribution_figure(results),
        "scree": _scree_figure(results),
        "efa": _efa_figure(results),
        "irt": _irt_figures(results),
    }
    review = results.get("review", {})
    statements = [_statement(s, results) for s in review.get("statements", [])]
    flagged = {item: [_reason(flag) for flag in flags] for item, flags in review.get("items", {}).items()}
    template = _environment.get_template("validation.html.j2")
    return template.render(
        title=title or results.get("title") or f"Validation report: {results['form']['title']}",
        results=results, figures=figures, statements=statements, flagged=flagged,
        step_names=STEP_NAMES, plotly_js=plotly.offline.get_plotlyjs(),
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        results_json=json.dumps(results, indent=1, ensure_ascii=False),
        factor_label=_factor_label, irt_columns=_irt_columns,
    )
