"""Confirmatory factor analysis with lavaan's syntax and defaults: ``cfa(model, data)``.

The pieces are kept apart as in lavaan: syntax.py parses, model.py builds the parameter table
and matrices, an estimator (estimator_ml.py, fiml.py) supplies objective, gradient and
information, optimizer.py minimises, fit.py turns the optimum into fit measures. Ordinal
items (``ordered=``) take the route of cfa_ordinal.py (samplestats_ordinal.py, model_ordinal.py,
estimator_dwls.py).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from rctscale.errors import AnalysisError, ModelError
from rctscale.psychometrics._threads import single_threaded_blas

from .._checks import as_item_frame
from .._result import Result, to_plain
from .estimator import Estimator
from .estimator_ml import MLEstimator
from .fit import fit_measures, srmr_bentler
from .model import MATRIX_NAMES, Model, build_model
from .optimizer import MAX_ITERATIONS, OptimResult, fisher_scoring
from .samplestats import SampleStats, sample_stats
from .standardized import standardize
from .start import start_values
from .syntax import Term, parse_model

# estimators that will come as their own modules; named so the error is clear. WLSMV and DWLS (ordinal
# items) live in cfa_ordinal.py
PLANNED_ESTIMATORS = ("WLS", "ULS", "ULSMV", "MLR", "MLM")
MISSING_LISTWISE = ("listwise",)
MISSING_FIML = ("fiml", "ml")
# an information matrix with a smaller relative eigenvalue is singular: a parameter is not identified
SINGULAR_INFORMATION = 1e-10


class EstimatorNotAvailableError(AnalysisError, NotImplementedError):
    """The estimator is planned but not implemented yet."""


def choose_estimator(estimator: str, missing: str, ordered: bool | Sequence[str] | None) -> Estimator:
    """The estimator for continuous items (ordered items go through cfa_ordinal.py)."""
    name = estimator.upper()
    if ordered:
        raise EstimatorNotAvailableError("ordered items are fitted by cfa_ordinal.fit_ordinal (WLSMV), not here")
    if name in PLANNED_ESTIMATORS:
        raise EstimatorNotAvailableError(
            f"estimator '{estimator}' is not available yet; use estimator='ML' for continuous items or "
            "'WLSMV' with ordered=... for ordinal items"
        )
    if name not in ("ML", "DEFAULT"):
        raise AnalysisError(f"unknown estimator '{estimator}'; use 'ML' (or 'WLSMV' with ordered items)")
    if missing in MISSING_FIML:
        from .fiml import FIMLEstimator

        return FIMLEstimator()
    if missing not in MISSING_LISTWISE:
        raise AnalysisError(f"unknown missing='{missing}'; use 'listwise' (lavaan's default) or 'fiml'")
    return MLEstimator()


@dataclass(frozen=True)
class FittedModel:
    """Everything a fitted model needs for further statistics (modification indices, tests)."""

    model: Model
    stats: SampleStats
    estimator: Estimator
    optim: OptimResult
    vcov: np.ndarray


@dataclass(frozen=True)
class CFAResult(Result):
    """A fitted CFA: fit measures, parameter estimates, loadings and the options used."""

    model: str
    fit: dict[str, float]
    estimates: pd.DataFrame
    loadings: pd.DataFrame
    std_loadings: pd.DataFrame
    converged: bool
    iterations: int
    n_obs: dict[str, int]
    options: dict[str, Any]
    fitted: FittedModel = field(repr=False, compare=False)

    def modification_indices(self, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
        """lavaan's modindices(): score test (mi), expected change (epc) and sepc_all."""
        from .modindices import modification_indices

        table = modification_indices(self.fitted)
        table = table[table["mi"] >= minimum]
        return table.sort_values("mi", ascending=False, ignore_index=True) if sort else table

    def to_dict(self) -> dict[str, Any]:
        return {f.name: to_plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "fitted"}

    def __str__(self) -> str:
        f = self.fit
        status = "converged" if self.converged else "did NOT converge"
        lines = [
            f"CFA ({self.options['estimator']}, missing={self.options['missing']}) {status} after "
            f"{self.iterations} iterations; N = {f['n']}"
            + (f" in groups {self.n_obs}" if len(self.n_obs) > 1 else ""),
            f"  chisq = {f['chisq']:.3f}, df = {f['df']}, p = {f['pvalue']:.4g}",
            f"  CFI = {f['cfi']:.3f}, TLI = {f['tli']:.3f}, RMSEA = {f['rmsea']:.3f} "
            f"[{f['rmsea_ci_lower']:.3f}, {f['rmsea_ci_upper']:.3f}], SRMR = {f['srmr']:.3f}",
        ]
        if math.isfinite(f.get("chisq_scaled", float("nan"))):
            lines += [
                f"  scaled (scaled.shifted): chisq = {f['chisq_scaled']:.3f}, df = {f['df_scaled']}, "
                f"p = {f['pvalue_scaled']:.4g}",
                f"  CFI = {f['cfi_scaled']:.3f}, TLI = {f['tli_scaled']:.3f}, RMSEA = {f['rmsea_scaled']:.3f} "
                f"[{f['rmsea_ci_lower_scaled']:.3f}, {f['rmsea_ci_upper_scaled']:.3f}]",
            ]
        if math.isfinite(f.get("aic", float("nan"))):
            lines.append(f"  AIC = {f['aic']:.2f}, BIC = {f['bic']:.2f}")
        lines += ["", "Parameter estimates:"]
        shown = self.estimates.drop(columns=[c for c in ("free", "label") if c in self.estimates])
        lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return "\n".join(lines)


def _group_labels(data: pd.DataFrame, group: str | None) -> list[str]:
    if group is None:
        return ["all"]
    labels = [str(v) for v in pd.unique(data[group].dropna())]  # lavaan: order of appearance
    if len(labels) < 2:
        raise AnalysisError(f"group column '{group}' has {len(labels)} distinct value(s); need at least 2")
    return labels


def _group_frames(data: pd.DataFrame, observed: Sequence[str], group: str | None, labels: list[str],
                  missing: str) -> list[pd.DataFrame]:
    frame = as_item_frame(data[list(observed)], min_items=1)
    if group is None:
        frames = [frame]
    else:
        column = data[group]
        as_text = column.astype(str)
        frames = [frame[(as_text == label).to_numpy() & column.notna().to_numpy()] for label in labels]
    cleaned = []
    for label, part in zip(labels, frames, strict=True):
        part = part.dropna(how="any") if missing in MISSING_LISTWISE else part.dropna(how="all")
        if len(part) < 2:
            raise AnalysisError(f"group '{label}' has {len(part)} usable row(s) after removing missing data")
        cleaned.append(part)
    return cleaned


def _unidentified_parameters(model: Model, information: np.ndarray) -> list[str]:
    eigenvalues, eigenvectors = np.linalg.eigh(information)
    null = eigenvectors[:, eigenvalues < SINGULAR_INFORMATION * max(eigenvalues.max(), 1e-300)]
    involved = np.flatnonzero(np.abs(null).max(axis=1) > 1e-3) + 1
    table = model.table
    rows = table[table["free"].isin(involved)].drop_duplicates("free")
    return [f"{r.lhs} {r.op} {r.rhs}".strip() for r in rows.itertuples()]


def fit_model(terms: list[Term], data: pd.DataFrame, *, estimator: str = "ML", group: str | None = None,
              group_equal: Sequence[str] = (), group_partial: Sequence[str] = (), missing: str = "listwise",
              ordered: bool | Sequence[str] | None = None, meanstructure: bool | None = None,
              std_lv: bool = False, max_iterations: int = MAX_ITERATIONS) -> FittedModel:
    """Parse-free core of :func:`cfa`: build, estimate, and compute the sampling covariance."""
    if not isinstance(data, pd.DataFrame):
        raise AnalysisError(f"cfa() needs a pandas DataFrame, got {type(data).__name__}")
    missing = missing.lower()
    chosen = choose_estimator(estimator, missing, ordered)
    if group is not None and group not in data.columns:
        raise ModelError(f"group column '{group}' is not in the data; columns: {', '.join(map(str, data.columns))}")
    if group is None and group_equal:
        raise ModelError("group_equal needs a group column (group=...)")
    labels = _group_labels(data, group)
    use_means = bool(meanstructure) or group is not None or missing in MISSING_FIML
    model = build_model(terms, [str(c) for c in data.columns], labels, meanstructure=use_means,
                        group_equal=group_equal, group_partial=group_partial, std_lv=std_lv)
    frames = _group_frames(data, model.observed, group, labels, missing)
    stats = sample_stats(frames, labels, missing_patterns=missing in MISSING_FIML)
    with single_threaded_blas():
        optim, vcov = _estimate(model, stats, chosen, max_iterations)
    return FittedModel(model=model, stats=stats, estimator=chosen, optim=optim, vcov=vcov)



def _estimate(model: Model, stats: SampleStats, chosen: Estimator, max_iterations: int) -> tuple[Any, np.ndarray]:
    """Optimise, check identification and compute the sampling covariance of the estimates."""
    optim = fisher_scoring(model, stats, chosen, start_values(model, stats), max_iterations=max_iterations)
    if not optim.converged:
        warnings.warn(f"the CFA did not converge ({optim.message}; largest gradient "
                      f"{np.max(np.abs(optim.gradient)):.2g}); estimates are not trustworthy", stacklevel=5)
    information = chosen.information(model, optim.params, stats)
    scaled = information / np.sqrt(np.outer(np.diag(information), np.diag(information)))
    if optim.converged and np.linalg.eigvalsh(scaled).min() < SINGULAR_INFORMATION:
        names = _unidentified_parameters(model, information)
        raise ModelError(
            "the model is not identified: the information matrix is singular; these parameters "
            f"cannot be told apart: {', '.join(names)}. Fix or constrain one of them"
        )
    vcov = chosen.vcov(model, optim.params, stats)
    return optim, vcov

def summarize(fitted: FittedModel, model_text: str, options: dict[str, Any]) -> CFAResult:
    """Turn a fitted model into a :class:`CFAResult` (fit measures, estimates, loadings)."""
    model, stats, chosen, optim = fitted.model, fitted.stats, fitted.estimator, fitted.optim
    params = optim.params
    mats = model.matrices(params)
    implied = [model.implied_moments(m) for m in mats]
    chisq = chosen.chisq(model, params, stats)
    chisq_baseline, df_baseline = chosen.baseline(stats)
    srmr = srmr_bentler(chosen.saturated_moments(stats), implied, [g.n for g in stats.groups],
                        model.meanstructure)
    fit = fit_measures(chisq=chisq, df=model.df, chisq_baseline=chisq_baseline, df_baseline=df_baseline,
                       n=stats.ntotal, n_groups=model.n_groups, srmr=srmr,
                       loglik=chosen.loglik(model, params, stats), npar=model.n_free)

    table = model.table
    free = table["free"].to_numpy()
    est = np.where(free > 0, params[np.maximum(free, 1) - 1], table["ustart"].to_numpy())
    se_free = np.sqrt(np.clip(np.diag(fitted.vcov), 0, None))
    se = np.where(free > 0, se_free[np.maximum(free, 1) - 1], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(free > 0, est / se, np.nan)
    pvalue = 2 * scipy_stats.norm.sf(np.abs(z))
    kind = np.array([MATRIX_NAMES.index(m) for m in table["matrix"]])
    std_all = np.full(len(table), np.nan)
    groups = table["group"].to_numpy()
    for g in range(model.n_groups):
        rows = groups == g
        std_all[rows] = standardize(kind[rows], table["row"].to_numpy()[rows], table["col"].to_numpy()[rows],
                                    est[rows], mats[g], implied[g][0])
    estimates = pd.DataFrame({
        "lhs": table["lhs"], "op": table["op"], "rhs": table["rhs"],
        "group": [model.groups[g] for g in groups], "label": table["label"].where(
            ~table["label"].str.startswith(".eq."), ""), "free": free,
        "est": est, "se": se, "z": z, "pvalue": pvalue, "std_all": std_all,
    })
    if model.n_groups == 1:
        estimates = estimates.drop(columns="group")

    def loading_frame(values: np.ndarray) -> pd.DataFrame:
        frames = []
        for g in range(model.n_groups):
            sel = (table["op"] == "=~").to_numpy() & (groups == g)
            frame = pd.DataFrame(0.0, index=pd.Index(model.observed, name="item"), columns=list(model.latent))
            for lhs, rhs, value in zip(table["lhs"][sel], table["rhs"][sel], values[sel], strict=True):
                frame.loc[rhs, lhs] = value
            frames.append(frame)
        if model.n_groups == 1:
            return frames[0]
        return pd.concat(frames, keys=list(model.groups), names=["group", "item"])

    return CFAResult(
        model=model_text, fit=fit, estimates=estimates, loadings=loading_frame(est),
        std_loadings=loading_frame(std_all), converged=optim.converged, iterations=optim.iterations,
        n_obs={label: g.n for label, g in zip(model.groups, stats.groups, strict=True)},
        options=options, fitted=fitted,
    )


def cfa(model: str, data: pd.DataFrame, estimator: str = "default", group: str | None = None,
        group_equal: Sequence[str] = (), missing: str = "listwise", ordered: bool | Sequence[str] | None = None,
        *, group_partial: Sequence[str] = (), meanstructure: bool | None = None, std_lv: bool = False,
        max_iterations: int = MAX_ITERATIONS) -> CFAResult:
    """Fit a confirmatory factor model written in lavaan syntax, as ``lavaan::cfa()`` does.

    Defaults follow lavaan: the first loading of each factor is fixed to 1, latent variances and
    covariances and residual variances are free, the ML discrepancy uses covariances with
    divisor N, rows with a missing answer are dropped (``missing="listwise"``; ``"fiml"`` uses
    every answer), standard errors come from the expected information. ``group`` fits one model
    per group (with a mean structure); ``group_equal`` takes lavaan's keywords ("loadings",
    "intercepts", "residuals", "means", "lv.variances", "lv.covariances",
    "residual.covariances") and ``group_partial`` frees single parameters again ("f=~x2").

    Ordinal items: ``ordered=True`` (every indicator) or ``ordered=[...]`` switches the default
    estimator to lavaan's WLSMV (estimator="default" is ML for continuous and WLSMV for ordered
    items, as in lavaan): thresholds and polychoric correlations, DWLS estimates in the delta
    parameterization, robust standard errors and the scaled.shifted chi-square; ``fit`` then
    also holds chisq_scaled, cfi_scaled, tli_scaled, rmsea_scaled (see cfa_ordinal.py).
    ``estimator="DWLS"`` gives the same estimates with standard errors and test unscaled. The
    "thresholds" keyword of ``group_equal`` equates thresholds across groups.

    Example
    -------
    >>> fit = cfa("visual =~ x1 + x2 + x3\\ntextual =~ x4 + x5 + x6", data)  # doctest: +SKIP
    >>> fit.fit["cfi"], fit.std_loadings                                     # doctest: +SKIP

    References: Rosseel (2012), lavaan: An R package for structural equation modeling,
    Journal of Statistical Software 48(2); Bollen (1989), Structural Equations with Latent Variables.
    """
    from .cfa_ordinal import cfa_ordinal, wants_ordinal

    if wants_ordinal(estimator, ordered):
        return cfa_ordinal(model, data, estimator=estimator, group=group, group_equal=group_equal,
                           group_partial=group_partial, missing=missing, ordered=ordered, std_lv=std_lv,
                           max_iterations=max_iterations)
    estimator = "ML" if estimator.upper() == "DEFAULT" else estimator
    terms = parse_model(model)
    fitted = fit_model(terms, data, estimator=estimator, group=group, group_equal=group_equal,
                       group_partial=group_partial, missing=missing, ordered=ordered,
                       meanstructure=meanstructure, std_lv=std_lv, max_iterations=max_iterations)
    options = {"estimator": estimator.upper(), "group": group, "group_equal": list(group_equal),
               "group_partial": list(group_partial), "missing": missing.lower(),
               "meanstructure": fitted.model.meanstructure, "std_lv": std_lv,
               "information": fitted.estimator.information_type if hasattr(
                   fitted.estimator, "information_type") else "expected",
               "likelihood": "normal"}
    result = summarize(fitted, model, options)
    if not math.isfinite(result.fit["chisq"]):
        raise AnalysisError("the fit produced a non-finite chi-square; check the data for constant or "
                            "duplicated items")
    return result
