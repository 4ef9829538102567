"""Run the validation analyses on a sample and collect every number in one results dict.

The report is a view of these results, never a second computation. Each section is run
on its own: a statistic that cannot be computed on these data (an
:class:`~rctscale.errors.AnalysisError`) is recorded as the section's error, with its
message, and the other sections still run.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from rctscale.bank import Form
from rctscale.errors import AnalysisError, ModelError
from rctscale.psychometrics._result import to_plain
from rctscale.scoring import reverse_key

Progress = Callable[[str], None]


def cfa_model_syntax(form: Form) -> str:
    """lavaan syntax with one factor per scale of the form, each item on its first scale."""
    placed: set[str] = set()
    lines = []
    for scale in form.scales:
        items = [i for i in scale.items if i not in placed]
        placed.update(items)
        if len(items) >= 3:
            lines.append(f"{scale.id} =~ " + " + ".join(items))
    return "\n".join(lines)


def item_statistics(items: pd.DataFrame, form: Form) -> pd.DataFrame:
    """Mean, SD, share missing and share at the floor and ceiling of every item (raw answers)."""
    rows = {}
    for item_id in items.columns:
        values = items[item_id]
        answered = values.dropna()
        scale = form.item(item_id).scale
        rows[item_id] = {
            "n": int(answered.size),
            "missing": float(values.isna().mean()),
            "mean": float(answered.mean()) if answered.size else np.nan,
            "sd": float(answered.std()) if answered.size > 1 else np.nan,
            "floor": float((answered == scale.minimum).mean()) if answered.size else np.nan,
            "ceiling": float((answered == scale.maximum).mean()) if answered.size else np.nan,
            **{f"p{v}": float((answered == v).mean()) if answered.size else np.nan for v in scale.values},
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _section(results: dict[str, Any], name: str, compute: Callable[[], Any], progress: Progress | None) -> None:
    if progress:
        progress(name)
    try:
        results[name] = to_plain(compute())
    except (AnalysisError, ModelError) as error:
        results[name] = {"error": str(error)}


def validate_sample(form: Form, responses: pd.DataFrame, *, group_column: str | None = None, seed: int = 0,
                    n_factors: int | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Every validation analysis that rctscale has, on one sample; a JSON-ready dict."""
    from rctscale import psychometrics as pm

    raw = responses[form.item_ids].astype(float)
    keyed = reverse_key(raw, form)
    results: dict[str, Any] = {
        "form": {"id": form.id, "title": form.title, "content_hash": form.content_hash,
                 "banks": {b.id: b.content_hash for b in form.banks}},
        "sample": {"n": int(len(responses)), "n_items": int(raw.shape[1]),
                   "complete_cases": int(raw.notna().all(axis=1).sum()),
                   "missing_share": float(raw.isna().to_numpy().mean()),
                   "groups": (responses[group_column].value_counts().sort_index().to_dict()
                              if group_column and group_column in responses else None)},
        "options": {"seed": seed, "group_column": group_column, "reverse_keyed": form.reverse_keyed()},
        "environment": environment(),
    }
    _section(results, "items", lambda: item_statistics(raw, form), progress)
    scales = [s for s in form.scales if len(s.items) >= 2]
    _section(results, "reliability", lambda: {
        s.id: _reliability(pm, keyed[list(s.items)]) for s in scales}, progress)
    _section(results, "kmo", lambda: pm.kmo(keyed), progress)
    _section(results, "bartlett", lambda: pm.bartlett(keyed), progress)
    _section(results, "parallel_analysis", lambda: pm.parallel_analysis(keyed, n_iter=20, seed=seed), progress)
    factors = n_factors or len(scales)
    _section(results, "efa", lambda: pm.efa(keyed, n_factors=factors), progress)
    model = cfa_model_syntax(form)
    results["cfa_model"] = model
    _section(results, "cfa", lambda: _cfa_summary(pm.cfa(model, keyed)), progress)
    if group_column and group_column in responses:
        grouped = keyed.assign(**{group_column: responses[group_column].to_numpy()})
        _section(results, "invariance", lambda: pm.invariance(model, grouped, group=group_column).table, progress)
    return results


def _reliability(pm: Any, items: pd.DataFrame) -> dict[str, Any]:
    alpha = pm.alpha(items)
    out = {"n_items": items.shape[1], "alpha": alpha.alpha, "std_alpha": alpha.std_alpha,
           "alpha_ci": list(alpha.ci), "items": alpha.items}
    try:
        omega = pm.omega(items, n_factors=1)
        out["omega_total"] = omega.omega_total
    except AnalysisError as error:
        out["omega_error"] = str(error)
    return out


def _cfa_summary(fit: Any) -> dict[str, Any]:
    return {"fit": fit.fit, "std_loadings": fit.std_loadings, "converged": getattr(fit, "converged", True)}


def environment() -> dict[str, str]:
    """Versions that a reader needs to reproduce the numbers."""
    versions = {"python": platform.python_version()}
    for package in ("rctscale", "numpy", "scipy", "pandas", "plotly"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
