"""Run an analysis plan on a sample and collect every number in one JSON-ready results dict.

The validation report is a view of these results, never a second computation: every number
it shows, every flag it raises and the rules behind them are here. Each section runs on its
own: a statistic that cannot be computed on these data (an
:class:`~rctscale.errors.AnalysisError` or :class:`~rctscale.errors.ModelError`) is recorded
as the section's error, with its message, and the other sections still run. Warnings the
numerics give (a smoothed polychoric matrix, a Heywood case) are recorded with their section.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rctscale.bank import Form
from rctscale.errors import AnalysisError, ModelError
from rctscale.plan import Plan, PlanScale, default_plan
from rctscale.psychometrics._result import to_plain

RESULTS_SCHEMA = "rctscale.validation-results/1"

# Called with what is running, how many steps are done (fractional inside a long step) and how
# many steps there are in all; the command line turns it into a progress bar.
ProgressCallback = Callable[[str, float, int], None]

# Rules for items worth a second look. They are recorded with the results so that the report
# states exactly the rules that were applied.
ITEM_RULES: dict[str, dict[str, Any]] = {
    "floor_ceiling": {"threshold": 0.15, "text": "more than 15 % of the answers at the lowest (floor) or highest "
                                                "(ceiling) option", "source": "Terwee et al., 2007"},
    "missing": {"threshold": 0.05, "text": "more than 5 % of the answers missing", "source": ""},
    "item_rest": {"threshold": 0.30, "text": "item-rest correlation below .30 within its scale",
                  "source": "Nunnally & Bernstein, 1994"},
    "alpha_if_dropped": {"threshold": None, "text": "the scale's alpha rises when the item is dropped",
                         "source": ""},
    "efa_weak": {"threshold": 0.40, "text": "largest EFA pattern loading below .40 in absolute value",
                 "source": "Stevens, 2002"},
    "efa_cross": {"threshold": 0.30, "text": "EFA pattern loading of .30 or more in absolute value on a second "
                                             "factor (cross-loading)", "source": "Costello & Osborne, 2005"},
    "cfa_weak": {"threshold": 0.40, "text": "standardized CFA loading below .40 in absolute value", "source": ""},
    "irt_low_a": {"threshold": 0.65, "text": "IRT discrimination a below 0.65 (low)", "source": "Baker, 2001"},
}
# Rules for the scales and the model as a whole.
RELIABILITY_MINIMUM = 0.70
KMO_MINIMUM = 0.60
BARTLETT_ALPHA = 0.05
FIT_CUTOFFS: dict[str, tuple[str, float]] = {"cfi": (">=", 0.95), "tli": (">=", 0.95), "rmsea": ("<=", 0.06),
                                              "srmr": ("<=", 0.08)}
DELTA_CFI_MINIMUM = -0.01
MODEL_RULES: dict[str, dict[str, Any]] = {
    "reliability": {"threshold": RELIABILITY_MINIMUM, "text": "alpha and omega total of at least .70",
                    "source": "Nunnally & Bernstein, 1994"},
    "kmo": {"threshold": KMO_MINIMUM, "text": "KMO of at least .60 and Bartlett's test significant at .05",
            "source": "Kaiser, 1974"},
    "dimensionality": {"threshold": None, "text": "parallel analysis suggests as many factors as the plan has "
                                                  "scales", "source": "Horn, 1965"},
    "cfa_fit": {"threshold": FIT_CUTOFFS, "text": "CFI and TLI of at least .95, RMSEA at most .06, SRMR at most "
                                                  ".08 (scaled indices with WLSMV)", "source": "Hu & Bentler, 1999"},
    "invariance": {"threshold": DELTA_CFI_MINIMUM, "text": "a step holds when CFI drops by no more than .01 "
                                                           "from the previous step (ΔCFI ≥ −.01)",
                   "source": "Cheung & Rensvold, 2002"},
}
# Theta grid of the IRT information curves: wide enough for clinical extremes, fine enough to plot.
THETA_GRID = np.round(np.linspace(-4.0, 4.0, 81), 2)
ENVIRONMENT_PACKAGES = ("rctscale", "numpy", "scipy", "pandas", "plotly", "jinja2", "pyyaml")


def model_syntax_for_scales(scales: list[PlanScale] | tuple[PlanScale, ...]) -> str:
    """One factor per scale with at least three items (fewer cannot be identified alone); an item
    on several scales loads on the first only, so that no item has a loading imposed twice."""
    placed: set[str] = set()
    lines = []
    for scale in scales:
        items = [i for i in scale.items if i not in placed]
        placed.update(items)
        if len(items) >= 3:
            lines.append(f"{scale.id} =~ " + " + ".join(items))
    return "\n".join(lines)


def reverse_items(values: pd.DataFrame, form: Form, reverse: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Reverse-score the listed items (``min + max - x`` on each item's response scale)."""
    keyed = values.copy()
    for item_id in reverse:
        if item_id in keyed.columns:
            scale = form.item(item_id).scale
            keyed[item_id] = scale.minimum + scale.maximum - keyed[item_id]
    return keyed


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


class _Steps:
    """Turns section starts and inner progress (bootstrap draws) into ProgressCallback calls."""

    def __init__(self, names: list[str], progress: ProgressCallback | None) -> None:
        self.names = names
        self.progress = progress
        self.done = 0

    def begin(self, name: str) -> None:
        if self.progress:
            self.progress(name, self.done, len(self.names))

    def inner(self, name: str, start: float = 0.0, share: float = 1.0) -> Callable[[int, int], None] | None:
        """A callback for draws inside the current step, filling ``share`` of it from ``start``."""
        if not self.progress:
            return None
        progress = self.progress

        def report(done: int, total: int) -> None:
            fraction = start + share * done / max(total, 1)
            progress(f"{name} ({done}/{total})", self.done + fraction, len(self.names))

        return report

    def end(self) -> None:
        self.done += 1
        if self.progress:
            self.progress("done" if self.done == len(self.names) else "", self.done, len(self.names))


def _run_section(results: dict[str, Any], key: str, compute: Callable[[], Any]) -> None:
    """Store ``compute()`` under ``key``, or the reason it could not be computed; keep any warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = to_plain(compute())
        except (AnalysisError, ModelError) as error:
            value = {"error": str(error)}
        except np.linalg.LinAlgError as error:
            value = {"error": f"a matrix computation failed ({error}); the items may be nearly redundant"}
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    if messages and isinstance(value, dict):
        value["warnings"] = messages
    results[key] = value


def _ok(section: Any) -> bool:
    return isinstance(section, dict) and "error" not in section


def run_plan(plan: Plan, responses: pd.DataFrame, *, data_path: str | Path | None = None,
             data_hash: str | None = None, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Every analysis the plan asks for, on ``responses`` (read and checked against the plan's form)."""
    from rctscale.psychometrics._threads import single_threaded_blas

    # Every matrix here is small (items x items); BLAS threads only fight each other over them:
    # a bootstrap of omega ran 30 times faster on one thread on a busy two-core machine.
    with single_threaded_blas():
        return _run_plan(plan, responses, data_path=data_path, data_hash=data_hash, progress=progress)


def _run_plan(plan: Plan, responses: pd.DataFrame, *, data_path: str | Path | None,
              data_hash: str | None, progress: ProgressCallback | None) -> dict[str, Any]:
    from rctscale import psychometrics as pm

    form = plan.form
    item_ids = plan.item_ids
    raw = responses[item_ids].astype(float)
    keyed = reverse_items(raw, form, plan.reverse)
    statistics_rows = keyed.dropna() if plan.statistics_missing == "listwise" else keyed
    groups = None
    if plan.group is not None and plan.group in responses:
        groups = responses[plan.group].where(responses[plan.group].astype(str).str.strip() != "")

    step_names = ["sample and item statistics",
                  *[f"reliability: {s.id}" for s in plan.scales],
                  "KMO and Bartlett", "parallel analysis", "exploratory factor analysis",
                  "confirmatory factor analysis",
                  *(["measurement invariance"] if plan.invariance else []),
                  *([f"IRT: {s.id}" for s in plan.scales if len(s.items) >= 3] if plan.irt else [])]
    steps = _Steps(step_names, progress)
    scale_of_form = form.items[0].scale
    results: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "title": plan.title,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "plan": {"name": plan.name, "path": str(plan.path), "content_hash": plan.content_hash, "text": plan.text},
        "options": plan.settings(),
        "seeds": {"plan": plan.seed, "bootstrap": plan.seed if plan.bootstrap else None,
                  "parallel_analysis": plan.seed},
        "form": {"id": form.id, "title": form.title, "version": form.version, "content_hash": form.content_hash,
                 "banks": {b.id: b.content_hash for b in form.banks}},
        "data": {"path": str(data_path) if data_path is not None else None, "content_hash": data_hash,
                 "rows": int(len(responses))},
        "data_hash": data_hash,
        "environment": environment(),
        "response_scale": {"values": list(scale_of_form.values), "labels": [o.label for o in scale_of_form.options]},
        "scales": {s.id: {"name": s.name, "items": list(s.items)} for s in plan.scales},
        "item_texts": {item_id: {"text": form.item(item_id).text_for(form.referent),
                                 "reverse": item_id in plan.reverse} for item_id in item_ids},
        "review": {"item_rules": ITEM_RULES, "model_rules": MODEL_RULES},
    }

    steps.begin(step_names[0])
    results["sample"] = _sample(raw, statistics_rows, responses, plan, groups)
    _run_section(results, "items", lambda: _items_with_flags(item_statistics(raw.loc[statistics_rows.index], form)))
    steps.end()

    reliability: dict[str, Any] = {}
    for scale in plan.scales:
        steps.begin(f"reliability: {scale.id}")
        _run_section(reliability, scale.id, lambda s=scale: _reliability(pm, statistics_rows[list(s.items)], s, plan,
                                                                         form.item(s.items[0]).scale, steps))
        steps.end()
    results["reliability"] = reliability

    steps.begin("KMO and Bartlett")
    # the anti-image matrix (items x items) is left out: the report does not show it and it dwarfs the rest
    _run_section(results, "kmo", lambda: {k: v for k, v in pm.kmo(statistics_rows, corr=plan.efa.corr).to_dict().items()
                                          if k != "anti_image"})
    _run_section(results, "bartlett", lambda: pm.bartlett(statistics_rows, corr=plan.efa.corr))
    steps.end()

    steps.begin("parallel analysis")
    _run_section(results, "parallel_analysis", lambda: _parallel(pm, statistics_rows, plan))
    steps.end()

    steps.begin("exploratory factor analysis")
    _run_section(results, "efa", lambda: _efa(pm, statistics_rows, plan, results["parallel_analysis"]))
    steps.end()

    model = plan.cfa.model if plan.cfa.model is not None else model_syntax_for_scales(plan.scales)
    results["cfa_model"] = model
    steps.begin("confirmatory factor analysis")
    _run_section(results, "cfa", lambda: _cfa(pm, model, keyed, plan))
    steps.end()

    if plan.invariance:
        steps.begin("measurement invariance")
        _run_section(results, "invariance", lambda: _invariance(pm, model, keyed, groups, plan))
        steps.end()

    if plan.irt:
        irt: dict[str, Any] = {}
        for scale in plan.scales:
            if len(scale.items) < 3:
                continue
            steps.begin(f"IRT: {scale.id}")
            _run_section(irt, scale.id, lambda s=scale: _irt(pm, statistics_rows[list(s.items)]))
            steps.end()
        results["irt"] = irt

    results["review"].update(review(results, plan))
    return results


def analyze_file(plan: Plan, data: str | Path | None = None, *,
                 progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Read the plan's data (or ``data``), check it against the plan and its form, and run the plan."""
    from rctscale.data import read_responses
    from rctscale.files import file_hash

    path = plan.data_path(data)
    responses = read_responses(path, plan.form, id_column=plan.id_column, missing_codes=plan.missing_codes)
    plan.check_data(responses.columns, path)
    return run_plan(plan, responses, data_path=path, data_hash=file_hash(path), progress=progress)


def validate_sample(form: Form, responses: pd.DataFrame, *, group_column: str | None = None, seed: int = 0,
                    n_factors: int | None = None, bootstrap: int = 0,
                    progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Every validation analysis with its defaults on one sample, without a plan file; a JSON-ready dict."""
    if group_column is not None and group_column not in responses:
        group_column = None
    plan = default_plan(form, group=group_column, seed=seed, bootstrap=bootstrap,
                        n_factors=n_factors if n_factors is not None else "parallel")
    return run_plan(plan, responses, progress=progress)


# ------------------------------------------------------------------------------------ sections


def _sample(raw: pd.DataFrame, statistics_rows: pd.DataFrame, responses: pd.DataFrame, plan: Plan,
            groups: pd.Series | None) -> dict[str, Any]:
    missing_per_respondent = raw.isna().sum(axis=1)
    counts = {"0": int((missing_per_respondent == 0).sum()), "1": int((missing_per_respondent == 1).sum()),
              "2": int((missing_per_respondent == 2).sum()), "3 or more": int((missing_per_respondent >= 3).sum())}
    return {
        "n": int(len(raw)),
        "n_items": int(raw.shape[1]),
        "n_statistics": int(len(statistics_rows)),
        "complete_cases": int(raw.notna().all(axis=1).sum()),
        "missing_share": float(raw.isna().to_numpy().mean()) if raw.size else 0.0,
        "respondents_with_missing": int((missing_per_respondent > 0).sum()),
        "missing_per_respondent": counts,
        "invalid_set_missing": int(responses.attrs.get("invalid_set_missing", 0)),
        "group_column": plan.group,
        "groups": ({str(k): int(v) for k, v in groups.value_counts().sort_index().items()}
                   if groups is not None else None),
        "group_missing": int(groups.isna().sum()) if groups is not None else None,
    }


def _items_with_flags(table: pd.DataFrame) -> dict[str, Any]:
    items = to_plain(table)
    floor_ceiling = ITEM_RULES["floor_ceiling"]["threshold"]
    missing = ITEM_RULES["missing"]["threshold"]
    for entry in items.values():
        entry["floor_flag"] = entry["floor"] is not None and entry["floor"] > floor_ceiling
        entry["ceiling_flag"] = entry["ceiling"] is not None and entry["ceiling"] > floor_ceiling
        entry["missing_flag"] = entry["missing"] > missing
    return items


def _reliability(pm: Any, block: pd.DataFrame, scale: PlanScale, plan: Plan, response_scale: Any,
                 steps: _Steps) -> dict[str, Any]:
    """Alpha (Feldt CI; percentile bootstrap CI when the plan asks) and omega total (bootstrap CI).

    The progress bar gives the quick alpha bootstrap a fifth of the step and omega's the rest.
    """
    alpha = pm.alpha(block, n_boot=plan.bootstrap, seed=plan.seed,
                     scale_range=(response_scale.minimum, response_scale.maximum),
                     progress=steps.inner(f"reliability: {scale.id}: bootstrap of alpha", 0.0, 0.2))
    items = {}
    for item_id, row in alpha.items.iterrows():
        r_drop, if_dropped = _number(row["r_drop"]), _number(row["alpha_if_dropped"])
        items[str(item_id)] = {
            "r_drop": r_drop, "alpha_if_dropped": if_dropped,
            "r_drop_flag": r_drop is not None and r_drop < ITEM_RULES["item_rest"]["threshold"],
            "alpha_if_dropped_flag": if_dropped is not None and if_dropped > alpha.alpha,
        }
    out: dict[str, Any] = {
        "name": scale.name, "n_items": alpha.n_items, "n": alpha.n, "alpha": alpha.alpha,
        "std_alpha": alpha.std_alpha, "average_r": alpha.average_r, "alpha_ci": list(alpha.ci),
        "alpha_ci_method": "Feldt", "alpha_boot_ci": list(alpha.boot_ci) if alpha.boot_ci else None,
        "alpha_boot_ci_method": f"percentile bootstrap, {plan.bootstrap} draws" if alpha.boot_ci else None,
        "items": items,
    }
    try:
        omega = pm.omega(block, n_factors=1, n_boot=plan.bootstrap, seed=plan.seed,
                         progress=steps.inner(f"reliability: {scale.id}: bootstrap of omega", 0.2, 0.8))
    except AnalysisError as error:
        out["omega_total"] = None
        out["omega_error"] = str(error)
    else:
        out["omega_total"] = omega.omega_total
        if omega.ci is not None:
            out["omega_ci"] = [float(omega.ci.loc["omega_total", "lower"]), float(omega.ci.loc["omega_total", "upper"])]
            out["omega_ci_method"] = (f"bootstrap, {plan.bootstrap} draws (mean ± 1.96 SD of Fisher-z replicates, "
                                      "as psych)")
        else:
            out["omega_ci"] = None
            out["omega_ci_method"] = None
    values = [v for v in (out["alpha"], out.get("omega_total")) if v is not None]
    out["meets_minimum"] = bool(values) and min(values) >= RELIABILITY_MINIMUM
    return out


def _parallel(pm: Any, data: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    result = pm.parallel_analysis(data, n_iter=plan.parallel_iterations, seed=plan.seed, corr=plan.efa.corr,
                                  fm=plan.efa.method)
    table = result.table
    return {"n_factors": result.n_factors, "n_components": result.n_components,
            "eigenvalues": {"number": [int(i) for i in table.index], **{c: table[c].tolist() for c in table}},
            "options": result.options}


def _efa(pm: Any, data: pd.DataFrame, plan: Plan, parallel: dict[str, Any]) -> dict[str, Any]:
    setting = plan.efa.n_factors
    if isinstance(setting, int):
        n_factors, rule = setting, "as the plan states"
    elif setting == "scales" or not _ok(parallel):
        n_factors = len(plan.scales)
        rule = ("one per scale" if setting == "scales" else
                "one per scale, because parallel analysis could not be computed")
    else:
        # psych reports 0 factors when even the first eigenvalue is within chance; one factor is the least an EFA fits
        n_factors = max(1, int(parallel["n_factors"]))
        rule = "as parallel analysis suggests"
    result = pm.efa(data, n_factors=n_factors, method=plan.efa.method, rotation=plan.efa.rotation,
                    corr=plan.efa.corr)
    loadings = result.loadings
    weak, cross = ITEM_RULES["efa_weak"]["threshold"], ITEM_RULES["efa_cross"]["threshold"]
    scale_of = {}
    for scale in plan.scales:
        for item_id in scale.items:
            scale_of.setdefault(item_id, scale.id)
    items: dict[str, Any] = {}
    for item_id, row in loadings.iterrows():
        magnitudes = row.abs()
        primary = str(magnitudes.idxmax())
        others = [str(f) for f in magnitudes.index if f != primary and magnitudes[f] >= cross]
        items[str(item_id)] = {"primary_factor": primary, "primary_loading": float(row[primary]),
                               "weak_flag": bool(magnitudes.max() < weak), "cross_loadings": others,
                               "cross_flag": bool(others)}
    # name each factor by the scale most of its primary items come from, so readers can match them
    factor_scales = {}
    for factor in loadings.columns:
        members = [scale_of.get(i) for i, entry in items.items() if entry["primary_factor"] == str(factor)]
        counts = pd.Series([m for m in members if m is not None]).value_counts()
        factor_scales[str(factor)] = ({"scale": str(counts.index[0]), "items": int(counts.iloc[0]),
                                       "of": len(members)} if len(counts) else None)
    fit_keys = ("chisq", "dof", "pvalue", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "tli", "bic", "rms")
    return {"n_factors": n_factors, "n_factors_rule": rule, "loadings": loadings, "phi": result.phi,
            "communalities": result.communalities, "variance": result.variance,
            "fit": {k: result.fit.get(k) for k in fit_keys if k in result.fit}, "converged": result.converged,
            "options": result.options, "items": items, "factor_scales": factor_scales}


def _cfa(pm: Any, model: str, keyed: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    if not model.strip():
        raise ModelError("no scale has three or more items, so there is no CFA model; state one in the plan "
                         "(cfa: model:)")
    kwargs: dict[str, Any] = {"estimator": plan.cfa.estimator, "missing": plan.cfa_missing}
    if plan.cfa.ordered:
        kwargs["ordered"] = True
    fit = pm.cfa(model, keyed, **kwargs)
    headline = _headline_fit(fit.fit, scaled=plan.cfa.estimator == "WLSMV")
    estimates = fit.estimates
    latent = set(fit.loadings.columns)
    loadings_rows = estimates[estimates["op"] == "=~"]
    std_loadings: dict[str, dict[str, float | None]] = {}
    for _, row in loadings_rows.iterrows():
        std_loadings.setdefault(str(row["rhs"]), {})[str(row["lhs"])] = _number(row["std_all"])
    weak = ITEM_RULES["cfa_weak"]["threshold"]
    items = {item: {"weak_flag": any(v is not None and abs(v) < weak for v in by_factor.values())}
             for item, by_factor in std_loadings.items()}
    covariances = estimates[(estimates["op"] == "~~") & (estimates["lhs"] != estimates["rhs"])
                            & estimates["lhs"].isin(latent) & estimates["rhs"].isin(latent)]
    factor_correlations = [{"lhs": str(r["lhs"]), "rhs": str(r["rhs"]), "r": _number(r["std_all"])}
                           for _, r in covariances.iterrows()]
    return {"model": model, "fit": fit.fit, "headline": headline, "verdicts": _verdicts(headline),
            "std_loadings": std_loadings, "items": items, "factor_correlations": factor_correlations,
            "converged": fit.converged, "n_obs": fit.n_obs, "options": fit.options}


def _headline_fit(fit: dict[str, Any], *, scaled: bool) -> dict[str, Any]:
    """The indices a reader reports: scaled (robust) ones for WLSMV, as lavaan users report them."""
    suffix = "_scaled" if scaled else ""
    keys = {"chisq": f"chisq{suffix}", "df": f"df{suffix}", "pvalue": f"pvalue{suffix}", "cfi": f"cfi{suffix}",
            "tli": f"tli{suffix}", "rmsea": f"rmsea{suffix}", "rmsea_ci_lower": f"rmsea_ci_lower{suffix}",
            "rmsea_ci_upper": f"rmsea_ci_upper{suffix}", "srmr": "srmr", "n": "n"}
    headline = {name: _number(fit.get(key)) for name, key in keys.items()}
    headline["scaled"] = scaled
    return headline


def _verdicts(headline: dict[str, Any]) -> dict[str, Any]:
    verdicts = {}
    for index, (direction, cutoff) in FIT_CUTOFFS.items():
        value = headline.get(index)
        meets = None if value is None else (value >= cutoff if direction == ">=" else value <= cutoff)
        verdicts[index] = {"value": value, "direction": direction, "cutoff": cutoff, "meets": meets}
    return verdicts


def _invariance(pm: Any, model: str, keyed: pd.DataFrame, groups: pd.Series | None, plan: Plan) -> dict[str, Any]:
    if groups is None:
        raise AnalysisError(f"the data have no column '{plan.group}' to compare groups by")
    if not model.strip():
        raise ModelError("there is no CFA model to test for invariance")
    data = keyed.assign(**{plan.group: groups.to_numpy()}).dropna(subset=[plan.group])  # type: ignore[dict-item]
    if data[plan.group].nunique() < 2:
        raise AnalysisError(f"column '{plan.group}' holds fewer than two groups; invariance compares groups")
    kwargs: dict[str, Any] = {"estimator": plan.cfa.estimator, "missing": plan.cfa_missing}
    if plan.cfa.ordered:
        kwargs["ordered"] = True
    result = pm.invariance(model, data, group=plan.group, **kwargs)
    table = result.table
    delta_key = "delta_cfi_scaled" if "delta_cfi_scaled" in table else "delta_cfi"
    cfi_key = "cfi_scaled" if "cfi_scaled" in table else "cfi"
    rmsea_key = "rmsea_scaled" if "rmsea_scaled" in table else "rmsea"
    chisq_key = "chisq_scaled" if "chisq_scaled" in table else "chisq"
    verdicts = {}
    for step, row in table.iterrows():
        delta = _number(row.get(delta_key))
        verdicts[str(step)] = {"delta_cfi": delta, "holds": None if delta is None else delta >= DELTA_CFI_MINIMUM}
    return {"table": table, "group": plan.group, "groups": {str(k): int(v) for k, v in
                                                              data[plan.group].value_counts().sort_index().items()},
            "columns": {"chisq": chisq_key, "cfi": cfi_key, "rmsea": rmsea_key, "delta_cfi": delta_key},
            "verdicts": verdicts, "options": result.options}


def _irt(pm: Any, block: pd.DataFrame) -> dict[str, Any]:
    result = pm.graded_response_model(block, standard_errors=False)
    information = result.item_information(THETA_GRID)
    low = ITEM_RULES["irt_low_a"]["threshold"]
    return {"parameters": result.parameters, "converged": result.converged, "n": result.n_respondents,
            "loglik": result.loglik, "theta": THETA_GRID.tolist(),
            "test_information": information.sum(axis=1).tolist(),
            "item_information": {str(c): information[c].tolist() for c in information.columns},
            "items": {str(i): {"low_a_flag": bool(a < low)} for i, a in result.parameters["a"].items()}}


# ------------------------------------------------------------------------------------ review


def review(results: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """Which conclusions hold and which items to look at again, by the rules in ITEM_RULES and MODEL_RULES.

    Returns ``statements`` (one per topic: status "holds", "review" or "not computed", with the
    numbers behind it) and ``items`` (item -> the rules it trips, with value and threshold).
    """
    flagged: dict[str, list[dict[str, Any]]] = {}

    def flag(item: str, rule: str, value: Any = None, scale: str | None = None, detail: Any = None) -> None:
        flagged.setdefault(item, []).append({"rule": rule, "value": value, "scale": scale, "detail": detail,
                                             "threshold": ITEM_RULES[rule]["threshold"]})

    items = results.get("items")
    if _ok(items):
        for item, entry in items.items():
            if entry["floor_flag"] or entry["ceiling_flag"]:
                end, share = (("floor", entry["floor"]) if entry["floor_flag"] else ("ceiling", entry["ceiling"]))
                flag(item, "floor_ceiling", share, detail=end)
            if entry["missing_flag"]:
                flag(item, "missing", entry["missing"])
    statements: list[dict[str, Any]] = []
    reliability = results.get("reliability") or {}
    scale_facts = []
    for scale_id, entry in reliability.items():
        if not _ok(entry):
            scale_facts.append({"scale": scale_id, "error": entry.get("error")})
            continue
        scale_facts.append({"scale": scale_id, "alpha": entry["alpha"], "omega_total": entry.get("omega_total"),
                            "meets": entry["meets_minimum"]})
        for item, row in entry["items"].items():
            if row["r_drop_flag"]:
                flag(item, "item_rest", row["r_drop"], scale_id)
            if row["alpha_if_dropped_flag"]:
                flag(item, "alpha_if_dropped", row["alpha_if_dropped"], scale_id, detail=entry["alpha"])
    computed = [f for f in scale_facts if "error" not in f]
    statements.append({"topic": "reliability", "status": _status(computed, all(f["meets"] for f in computed)),
                       "scales": scale_facts})

    kmo, bartlett = results.get("kmo"), results.get("bartlett")
    if _ok(kmo) and _ok(bartlett):
        holds = kmo["overall"] >= KMO_MINIMUM and bartlett["pvalue"] < BARTLETT_ALPHA
        statements.append({"topic": "kmo", "status": "holds" if holds else "review", "kmo": kmo["overall"],
                           "bartlett_chisq": bartlett["chisq"], "bartlett_df": bartlett["df"],
                           "bartlett_pvalue": bartlett["pvalue"]})
    else:
        statements.append({"topic": "kmo", "status": "not computed"})

    parallel = results.get("parallel_analysis")
    if _ok(parallel):
        statements.append({"topic": "dimensionality",
                           "status": "holds" if parallel["n_factors"] == len(plan.scales) else "review",
                           "n_factors": parallel["n_factors"], "n_components": parallel["n_components"],
                           "n_scales": len(plan.scales)})
    else:
        statements.append({"topic": "dimensionality", "status": "not computed", "n_scales": len(plan.scales)})

    efa = results.get("efa")
    if _ok(efa):
        for item, entry in efa["items"].items():
            if entry["weak_flag"]:
                flag(item, "efa_weak", entry["primary_loading"], detail=entry["primary_factor"])
            if entry["cross_flag"]:
                flag(item, "efa_cross", None, detail=[entry["primary_factor"], *entry["cross_loadings"]])

    cfa = results.get("cfa")
    if _ok(cfa):
        verdicts = cfa["verdicts"]
        known = [v for v in verdicts.values() if v["meets"] is not None]
        statements.append({"topic": "cfa_fit", "status": _status(known, all(v["meets"] for v in known)),
                           "verdicts": verdicts, "estimator": plan.cfa.estimator, "converged": cfa["converged"]})
        for item, by_factor in cfa["std_loadings"].items():
            for factor, value in by_factor.items():
                if value is not None and abs(value) < ITEM_RULES["cfa_weak"]["threshold"]:
                    flag(item, "cfa_weak", value, detail=factor)
    else:
        statements.append({"topic": "cfa_fit", "status": "not computed"})

    if plan.invariance:
        invariance = results.get("invariance")
        if _ok(invariance):
            steps = [{"step": step, **verdict} for step, verdict in invariance["verdicts"].items()
                     if verdict["delta_cfi"] is not None]
            failing = [s["step"] for s in steps if not s["holds"]]
            statements.append({"topic": "invariance", "status": _status(steps, not failing), "group": plan.group,
                               "steps": steps, "first_failing": failing[0] if failing else None})
        else:
            statements.append({"topic": "invariance", "status": "not computed", "group": plan.group})

    irt = results.get("irt") or {}
    for scale_id, entry in irt.items():
        if _ok(entry):
            for item, row in entry["items"].items():
                if row["low_a_flag"]:
                    flag(item, "irt_low_a", entry["parameters"][item]["a"], scale_id)

    order = {item_id: position for position, item_id in enumerate(plan.form.item_ids)}
    ordered = {item: flagged[item] for item in sorted(flagged, key=lambda i: order.get(i, len(order)))}
    statements.append({"topic": "items", "status": "review" if ordered else "holds", "n_flagged": len(ordered),
                       "n_items": len(plan.item_ids)})
    return {"statements": statements, "items": ordered}


def _status(computed: list[Any], holds: bool) -> str:
    if not computed:
        return "not computed"
    return "holds" if holds else "review"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def environment() -> dict[str, str]:
    """Versions that a reader needs to reproduce the numbers."""
    versions = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for package in ENVIRONMENT_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
