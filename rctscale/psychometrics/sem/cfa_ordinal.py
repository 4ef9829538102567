"""Ordinal CFA as lavaan's ``cfa(model, data, ordered = ...)``: DWLS estimates, WLSMV inference.

The pieces: samplestats_ordinal.py (thresholds, polychorics, Gamma), model_ordinal.py (delta
parameterization), estimator_dwls.py (objective, robust SEs, scaled.shifted tests),
optimizer.py (shared with ML). This module wires them together and computes lavaan's
fitMeasures() for the ordinal case:

- chisq = sum_g (N_g - 1) F_g, chisq_scaled = a chisq + b (scaled.shifted, df unchanged);
- cfi / tli from the unscaled statistics of model and baseline, cfi_scaled / tli_scaled from
  the scaled ones (lav_fit_cfi, lav_fit_tli)::

      CFI = 1 - max(T - df, 0) / max(T - df, T_b - df_b, 0)
      TLI = 1 - ((T - df) df_b) / ((T_b - df_b) df)

- RMSEA = sqrt(max(T / (N' df) - 1 / N', 0)) sqrt(G) with N' = N - G (lavaan's
  lav_utils_get_ntotal for non-ML estimators); rmsea_scaled uses T_scaled; the 90 % intervals
  are lav_fit_rmsea_ci with the same N';
- SRMR (lavaan's srmr for categorical data = srmr_bentler_nomean): per group
  sqrt(sum_{i>j} (r_ij - rho_ij)^2 / (p (p + 1) / 2)), weighted by N_g / N.

Only complete cases are used (lavaan's missing = "listwise"), and every indicator must be
ordinal (lavaan also mixes continuous ones; that is not supported here).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from rctscale.errors import AnalysisError, ModelError
from rctscale.psychometrics._threads import single_threaded_blas

from .cfa import (
    MISSING_LISTWISE,
    SINGULAR_INFORMATION,
    CFAResult,
    EstimatorNotAvailableError,
    FittedModel,
    _group_frames,
    _group_labels,
    _unidentified_parameters,
)
from .estimator_dwls import DWLSEstimator, baseline_tests
from .fit import cfi, chisq_pvalue, rmsea, rmsea_ci, tli
from .model import MATRIX_NAMES, model_variables
from .model_ordinal import OrdinalModel, build_ordinal_model
from .optimizer import MAX_ITERATIONS, fisher_scoring
from .samplestats import GroupStats, SampleStats
from .samplestats_ordinal import OrdinalSampleStats, item_categories, lower_pairs, ordinal_sample_stats
from .standardized import standardize
from .start import start_values
from .syntax import Term, parse_model

ORDINAL_ESTIMATORS = ("WLSMV", "DWLS")
OP_ORDER = {"=~": 0, "|": 1, "~~": 2, "~*~": 3, "~1": 4}
# more categories than this and an "ordinal" item is almost surely a continuous score
MAX_ORDINAL_CATEGORIES = 20


def wants_ordinal(estimator: str, ordered: bool | str | Sequence[str] | None) -> bool:
    """True when cfa() should take the ordinal route (ordered items or an ordinal estimator)."""
    return bool(ordered) or estimator.upper() in ORDINAL_ESTIMATORS


def _ordered_items(ordered: bool | str | Sequence[str] | None, observed: Sequence[str],
                   data: pd.DataFrame) -> list[str]:
    """The ordinal indicators: all of the model's (names in ``ordered`` outside the model are ignored).

    Raises when ``ordered`` is empty, names columns that do not exist, or leaves out an indicator
    (lavaan would treat it as continuous; mixed models are not supported here).
    """
    if ordered is None or ordered is False or (not isinstance(ordered, bool) and len(ordered) == 0):
        raise EstimatorNotAvailableError(
            "WLSMV / DWLS are available here for ordinal items only: pass ordered=True (all indicators) or "
            "ordered=[...] naming them; for continuous items use estimator='ML'"
        )
    if ordered is True:
        return list(observed)
    names = [ordered] if isinstance(ordered, str) else [str(name) for name in ordered]
    unknown = [name for name in names if name not in data.columns]
    if unknown:
        raise ModelError(f"ordered names variable(s) not in the data: {', '.join(unknown)}")
    continuous = [name for name in observed if name not in names]
    if continuous:
        raise EstimatorNotAvailableError(
            f"mixing continuous and ordinal indicators is not supported: {', '.join(continuous)} "
            f"{'is' if len(continuous) == 1 else 'are'} not in ordered. List every indicator in ordered (or pass "
            "ordered=True), or fit the continuous model with estimator='ML'"
        )
    return list(observed)


def choose_ordinal_estimator(estimator: str, missing: str) -> DWLSEstimator:
    """WLSMV (the default, robust) or DWLS (standard SEs, unscaled test); only listwise deletion."""
    name = estimator.upper()
    if name in ("DEFAULT", "WLSMV"):
        chosen = DWLSEstimator(robust=True)
    elif name == "DWLS":
        chosen = DWLSEstimator(robust=False)
    else:
        raise EstimatorNotAvailableError(
            f"estimator '{estimator}' is not available for ordered items; use 'WLSMV' (the default with "
            "ordered items, as in lavaan) or 'DWLS'"
        )
    if missing not in MISSING_LISTWISE:
        raise EstimatorNotAvailableError(
            f"missing='{missing}' is not available for ordered items; lavaan's default for WLSMV, "
            "'listwise' (complete cases), is"
        )
    return chosen


def _check_categories(frames: list[pd.DataFrame]) -> tuple[dict[str, int], tuple[np.ndarray, ...]]:
    """Number of thresholds per item (categories observed in the analysed rows, pooled over groups - 1)."""
    counts = {}
    categories = item_categories(frames)
    for name, values in zip(frames[0].columns, categories, strict=True):
        if len(values) > MAX_ORDINAL_CATEGORIES:
            raise AnalysisError(
                f"item '{name}' has {len(values)} distinct values; an ordered (ordinal) item may have at most "
                f"{MAX_ORDINAL_CATEGORIES} categories. It looks continuous: leave it out of ordered= and use "
                "estimator='ML', or recode it"
            )
        counts[str(name)] = len(values) - 1
    return counts, categories


def _start(model: OrdinalModel, stats: OrdinalSampleStats) -> np.ndarray:
    """Factor part from start.py on the polychoric matrices, thresholds from the sample, scales 1."""
    p = len(model.observed)
    pseudo = SampleStats(variables=stats.variables, group_labels=stats.group_labels,
                         groups=tuple(GroupStats(n=g.n, mean=np.zeros(p), cov=g.correlations) for g in stats.groups))
    params = np.zeros(model.n_free)
    base = start_values(model.base, pseudo)
    params[:len(base)] = base
    for g, group in reversed(list(enumerate(stats.groups))):  # the first group wins for shared labels
        free = model.threshold_param[g] >= 0
        params[model.threshold_param[g][free]] = group.thresholds[free]
        free = model.delta_param[g] >= 0
        params[model.delta_param[g][free]] = 1.0
    return params


def fit_ordinal(terms: list[Term], data: pd.DataFrame, *, estimator: str = "WLSMV", group: str | None = None,
                group_equal: Sequence[str] = (), group_partial: Sequence[str] = (), missing: str = "listwise",
                ordered: bool | str | Sequence[str] | None = True, std_lv: bool = False,
                max_iterations: int = MAX_ITERATIONS) -> FittedModel:
    """Build, estimate (DWLS) and compute the sampling covariance of an ordinal CFA."""
    if not isinstance(data, pd.DataFrame):
        raise AnalysisError(f"cfa() needs a pandas DataFrame, got {type(data).__name__}")
    missing = missing.lower()
    chosen = choose_ordinal_estimator(estimator, missing)
    if group is not None and group not in data.columns:
        raise ModelError(f"group column '{group}' is not in the data; columns: {', '.join(map(str, data.columns))}")
    if group is None and group_equal:
        raise ModelError("group_equal needs a group column (group=...)")
    _, observed = model_variables(terms)
    unknown = [name for name in observed if name not in data.columns]
    if unknown:
        raise ModelError(f"the model names variable(s) not in the data: {', '.join(unknown)}; the data columns "
                         f"are: {', '.join(sorted(map(str, data.columns)))}")
    _ordered_items(ordered, observed, data)
    labels = _group_labels(data, group)
    frames = _group_frames(data, observed, group, labels, "listwise")
    n_thresholds, categories = _check_categories(frames)
    model = build_ordinal_model(terms, [str(c) for c in data.columns], n_thresholds, labels,
                                group_equal=group_equal, group_partial=group_partial, std_lv=std_lv)
    stats = ordinal_sample_stats(frames, labels, categories)
    optim = fisher_scoring(model, stats, chosen, _start(model, stats), max_iterations=max_iterations)
    jacobians = model.jacobian(optim.params)
    information = chosen.expected_information(jacobians, stats)
    scaled = information / np.sqrt(np.outer(np.diag(information), np.diag(information)))
    if np.linalg.eigvalsh(scaled).min() < SINGULAR_INFORMATION:
        # DWLS information is Delta' W Delta: singular means the Jacobian has lost rank, so the model
        # is (locally) not identified, converged or not
        names = _unidentified_parameters(model, information)  # type: ignore[arg-type]
        raise ModelError(
            "the model is not identified: the information matrix is singular; these parameters cannot be "
            f"told apart: {', '.join(names)}. Fix or constrain one of them"
        )
    if not optim.converged:
        warnings.warn(f"the CFA did not converge ({optim.message}; largest gradient "
                      f"{np.max(np.abs(optim.gradient)):.2g}); estimates are not trustworthy", stacklevel=4)
    vcov = chosen.vcov(model, optim.params, stats, jacobians)
    return FittedModel(model=model, stats=stats, estimator=chosen, optim=optim, vcov=vcov)  # type: ignore[arg-type]


def srmr_ordinal(stats: OrdinalSampleStats, implied: list[np.ndarray]) -> float:
    """lavaan's srmr for categorical data: correlation residuals over p (p + 1) / 2, N-weighted."""
    values = []
    for group, correlations in zip(stats.groups, implied, strict=True):
        p = correlations.shape[0]
        rows, cols = lower_pairs(p)
        residual = group.correlations[rows, cols] - correlations[rows, cols]
        values.append(np.sqrt(np.sum(residual**2) / (p * (p + 1) / 2)))
    return float(stats.weights @ np.array(values))


def ordinal_fit_measures(fitted: FittedModel) -> dict[str, float]:
    """lavaan's fitMeasures() for a DWLS / WLSMV fit (see the module docstring)."""
    model, stats, chosen, params = fitted.model, fitted.stats, fitted.estimator, fitted.optim.params
    n_groups = model.n_groups
    n_rmsea = stats.ntotal - n_groups
    chisq = chosen.chisq(model, params, stats)
    df = model.df
    base_stat, base_df, base_scaled = baseline_tests(stats, robust=chosen.robust)
    lower, upper = rmsea_ci(chisq, df, n_rmsea, n_groups)
    out: dict[str, float] = {
        "chisq": chisq, "df": int(df), "pvalue": chisq_pvalue(chisq, df),
        "cfi": cfi(chisq, df, base_stat, base_df), "tli": tli(chisq, df, base_stat, base_df),
        "rmsea": rmsea(chisq, df, n_rmsea, n_groups), "rmsea_ci_lower": lower, "rmsea_ci_upper": upper,
    }
    nan = float("nan")
    scaled_keys = ("chisq_scaled", "df_scaled", "pvalue_scaled", "scaling_factor", "shift_parameter",
                   "cfi_scaled", "tli_scaled", "rmsea_scaled", "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled",
                   "baseline_chisq_scaled", "baseline_df_scaled", "baseline_scaling_factor")
    out.update(dict.fromkeys(scaled_keys, nan))
    if chosen.robust and df > 0:
        test = chosen.scaled_test(model, params, stats)
        lower_s, upper_s = rmsea_ci(test.stat, df, n_rmsea, n_groups)
        out.update({
            "chisq_scaled": test.stat, "df_scaled": int(df), "pvalue_scaled": chisq_pvalue(test.stat, df),
            "scaling_factor": test.scaling_factor, "shift_parameter": test.shift,
            "cfi_scaled": cfi(test.stat, df, base_scaled.stat, base_df),
            "tli_scaled": tli(test.stat, df, base_scaled.stat, base_df),
            "rmsea_scaled": rmsea(test.stat, df, n_rmsea, n_groups),
            "rmsea_ci_lower_scaled": lower_s, "rmsea_ci_upper_scaled": upper_s,
            "baseline_chisq_scaled": base_scaled.stat, "baseline_df_scaled": int(base_df),
            "baseline_scaling_factor": base_scaled.scaling_factor,
        })
    implied = [part.correlations for part in model.parts(params)]
    out.update({"srmr": srmr_ordinal(stats, implied), "n": int(stats.ntotal), "npar": int(model.n_free),
                "baseline_chisq": base_stat, "baseline_df": int(base_df),
                "aic": nan, "bic": nan, "loglik": nan})
    return out


def summarize_ordinal(fitted: FittedModel, model_text: str, options: dict[str, Any]) -> CFAResult:
    """Fit measures, the estimates table (with thresholds, scales and implied residual variances)."""
    model: OrdinalModel = fitted.model  # type: ignore[assignment]
    params = fitted.optim.params
    parts = model.parts(params)
    fit = ordinal_fit_measures(fitted)

    table = model.table
    free = table["free"].to_numpy()
    op = table["op"].to_numpy()
    groups = table["group"].to_numpy()
    matrix = table["matrix"].to_numpy()
    row, col = table["row"].to_numpy(), table["col"].to_numpy()
    est = np.where(free > 0, params[np.maximum(free, 1) - 1], table["ustart"].to_numpy(dtype=float))
    implied_residual = (matrix == "theta") & (row == col)
    for g, part in enumerate(parts):  # theta_ii = 1 / delta_i^2 - (Lambda Psi Lambda')_ii
        sel = implied_residual & (groups == g)
        est[sel] = np.diag(part.mats["theta"])[row[sel]]
    se_free = np.sqrt(np.clip(np.diag(fitted.vcov), 0, None))
    se = np.where(free > 0, se_free[np.maximum(free, 1) - 1], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(free > 0, est / se, np.nan)
    pvalue = 2 * scipy_stats.norm.sf(np.abs(z))

    std_all = np.full(len(table), np.nan)
    factor_rows = np.isin(matrix, MATRIX_NAMES)
    kind = np.array([MATRIX_NAMES.index(m) if m in MATRIX_NAMES else -1 for m in matrix])
    for g, part in enumerate(parts):
        sel = factor_rows & (groups == g)
        std_all[sel] = standardize(kind[sel], row[sel], col[sel], est[sel], part.mats, part.latent_cov)
        sel = (op == "|") & (groups == g)  # tau / sd(y*) = tau delta
        std_all[sel] = est[sel] * part.delta[col[sel]]
        std_all[(op == "~*~") & (groups == g)] = 1.0
    estimates = pd.DataFrame({
        "lhs": table["lhs"], "op": table["op"], "rhs": table["rhs"],
        "group": [model.groups[g] for g in groups],
        "label": table["label"].where(~table["label"].str.startswith(".eq."), ""), "free": free,
        "est": est, "se": se, "z": z, "pvalue": pvalue, "std_all": std_all,
    })
    # lavaan's order within a group: loadings, thresholds, (co)variances, scales, means
    rank = pd.Series(table["op"]).map(OP_ORDER).fillna(len(OP_ORDER)).to_numpy()
    estimates = estimates.iloc[np.lexsort((rank, groups))].reset_index(drop=True)
    if model.n_groups == 1:
        estimates = estimates.drop(columns="group")

    item_index = {name: i for i, name in enumerate(model.observed)}
    factor_index = {name: j for j, name in enumerate(model.latent)}
    loading_rows = np.flatnonzero(op == "=~")
    item_of = np.array([item_index[name] for name in table["rhs"].to_numpy()[loading_rows]], dtype=int)
    factor_of = np.array([factor_index[name] for name in table["lhs"].to_numpy()[loading_rows]], dtype=int)

    def loading_frame(values: np.ndarray) -> pd.DataFrame:
        frames = []
        for g in range(model.n_groups):
            sel = groups[loading_rows] == g
            matrix_g = np.zeros((len(model.observed), len(model.latent)))
            matrix_g[item_of[sel], factor_of[sel]] = values[loading_rows[sel]]
            frames.append(pd.DataFrame(matrix_g, index=pd.Index(model.observed, name="item"),
                                       columns=list(model.latent)))
        if model.n_groups == 1:
            return frames[0]
        return pd.concat(frames, keys=list(model.groups), names=["group", "item"])

    stats: OrdinalSampleStats = fitted.stats  # type: ignore[assignment]
    return CFAResult(
        model=model_text, fit=fit, estimates=estimates, loadings=loading_frame(est),
        std_loadings=loading_frame(std_all), converged=fitted.optim.converged, iterations=fitted.optim.iterations,
        n_obs={label: g.n for label, g in zip(model.groups, stats.groups, strict=True)},
        options=options, fitted=fitted,
    )


def cfa_ordinal(model: str, data: pd.DataFrame, *, estimator: str = "WLSMV", group: str | None = None,
                group_equal: Sequence[str] = (), group_partial: Sequence[str] = (), missing: str = "listwise",
                ordered: bool | str | Sequence[str] | None = True, std_lv: bool = False,
                max_iterations: int = MAX_ITERATIONS) -> CFAResult:
    """The ordinal branch of :func:`~.cfa.cfa` (same arguments)."""
    terms = parse_model(model)
    with single_threaded_blas():
        fitted = fit_ordinal(terms, data, estimator=estimator, group=group, group_equal=group_equal,
                             group_partial=group_partial, missing=missing, ordered=ordered, std_lv=std_lv,
                             max_iterations=max_iterations)
        return _finish(fitted, model, group, group_equal, group_partial, missing, std_lv)


def _finish(fitted: FittedModel, model: str, group: str | None, group_equal: Sequence[str],
            group_partial: Sequence[str], missing: str, std_lv: bool) -> CFAResult:
    name = fitted.estimator.name
    options = {"estimator": name, "group": group, "group_equal": list(group_equal),
               "group_partial": list(group_partial), "missing": missing.lower(), "meanstructure": True,
               "std_lv": std_lv, "ordered": list(fitted.model.observed), "parameterization": "delta",
               "se": "robust.sem" if name == "WLSMV" else "standard",
               "test": "scaled.shifted" if name == "WLSMV" else "standard", "information": "expected"}
    result = summarize_ordinal(fitted, model, options)
    if not math.isfinite(result.fit["chisq"]):
        raise AnalysisError("the fit produced a non-finite chi-square; check the data for constant or "
                            "duplicated items")
    return result
