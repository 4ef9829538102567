"""Measurement invariance across groups: a sequence of nested multi-group CFAs.

Continuous items (ML), steps as lavaan's group.equal: configural (same pattern), metric
(+ equal loadings), scalar (+ equal intercepts; latent means then free in all groups but the
first), strict (+ equal residual variances). Each step is compared with the previous one by
the chi-square difference test (lavaan's lavTestLRT for ML) and by the change in CFI and RMSEA.

Ordinal items (``ordered=``, WLSMV), the sequence of Wu & Estabrook (2016) as lavaan fits it:
configural, thresholds (group.equal = "thresholds"; the scales delta and the latent means are
then free in all groups but the first) and scalar (thresholds + loadings). Each step is
compared with the previous one by lavaan's lavTestLRT default for WLSMV, Satorra's (2000)
scaled-and-shifted difference test (``chisq_diff``, ``df_diff``, ``p_diff``; the naive
difference of the unscaled statistics is ``chisq_diff_naive``), and by the changes in the scaled
CFI and RMSEA (``delta_cfi_scaled``, ``delta_rmsea_scaled``) as well as the unscaled ones.

Reference: Wu, H. & Estabrook, R. (2016). Identification of confirmatory factor analysis models
of different levels of invariance for ordered categorical outcomes. Psychometrika 81, 1014-1045.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._result import Result, to_plain
from .cfa import CFAResult, fit_model, summarize
from .syntax import parse_model

STEPS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}
FIT_COLUMNS = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "srmr",
               "aic", "bic", "n")
ORDINAL_STEPS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "thresholds": ("thresholds",),
    "scalar": ("thresholds", "loadings"),
}
ORDINAL_FIT_COLUMNS = ("chisq", "df", "pvalue", "chisq_scaled", "df_scaled", "pvalue_scaled", "scaling_factor",
                       "shift_parameter", "cfi", "tli", "cfi_scaled", "tli_scaled", "rmsea", "rmsea_scaled",
                       "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled", "srmr", "n")


@dataclass(frozen=True)
class InvarianceResult(Result):
    """Fit of each invariance step and its comparison with the previous step."""

    table: pd.DataFrame
    group: str
    options: dict[str, Any]
    fits: dict[str, CFAResult] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"table": to_plain(self.table), "group": self.group, "options": to_plain(self.options)}

    def __str__(self) -> str:
        if "chisq_scaled" in self.table:
            columns = ["chisq_scaled", "df", "cfi_scaled", "rmsea_scaled", "srmr", "delta_cfi_scaled",
                       "delta_rmsea_scaled", "chisq_diff", "df_diff", "p_diff"]
        else:
            columns = ["chisq", "df", "cfi", "rmsea", "srmr", "delta_cfi", "delta_rmsea", "chisq_diff", "df_diff",
                       "p_diff"]
        shown = self.table[columns]
        return (f"Measurement invariance across '{self.group}' ({self.options['estimator']})\n"
                + shown.to_string(float_format=lambda v: f"{v:.4f}"))


def invariance(model: str, data: pd.DataFrame, group: str, estimator: str = "default",
               steps: Sequence[str] | None = None, *, missing: str = "listwise",
               group_partial: Sequence[str] = (), ordered: bool | Sequence[str] | None = None) -> InvarianceResult:
    """Fit the invariance steps across ``group``; continuous (ML) or ordinal (``ordered=``, WLSMV).

    Continuous items: steps configural, metric, scalar, strict (the default: all four).
    Ordinal items: configural, thresholds, scalar (the default: all three), see the module
    docstring. ``table`` is indexed by step with the fit measures of :func:`cfa` plus
    ``delta_cfi`` and ``delta_rmsea`` (this step minus the previous one) and the chi-square
    difference test ``chisq_diff``, ``df_diff``, ``p_diff`` against the previous step.
    """
    from .cfa_ordinal import fit_ordinal, single_threaded_blas, summarize_ordinal, wants_ordinal

    ordinal = wants_ordinal(estimator, ordered)
    known = ORDINAL_STEPS if ordinal else STEPS
    steps = tuple(known) if steps is None else tuple(steps)
    unknown = [s for s in steps if s not in known]
    if unknown:
        kind = "ordinal" if ordinal else "continuous"
        raise ValueError(f"unknown invariance step(s) {unknown} for {kind} items; choose from {list(known)}")
    if ordinal:
        with single_threaded_blas():
            return _ordinal_invariance(model, data, group, estimator, steps, missing, group_partial, ordered,
                                       fit_ordinal, summarize_ordinal)
    estimator = "ML" if estimator.upper() == "DEFAULT" else estimator
    terms = parse_model(model)
    rows, fits = [], {}
    for step in steps:
        fitted = fit_model(terms, data, estimator=estimator, group=group, group_equal=STEPS[step],
                           group_partial=group_partial, missing=missing)
        options = {"estimator": estimator.upper(), "group": group, "group_equal": list(STEPS[step]),
                   "group_partial": list(group_partial), "missing": missing}
        result = summarize(fitted, model, options)
        fits[step] = result
        rows.append({key: result.fit[key] for key in FIT_COLUMNS} | {"converged": result.converged})
    table = pd.DataFrame(rows, index=pd.Index(list(steps), name="step"))
    table["delta_cfi"] = table["cfi"].diff()
    table["delta_rmsea"] = table["rmsea"].diff()
    table["chisq_diff"] = table["chisq"].diff()
    table["df_diff"] = table["df"].diff()
    table["p_diff"] = [
        float(stats.chi2.sf(max(c, 0.0), d)) if d and d > 0 and np.isfinite(c) else np.nan
        for c, d in zip(table["chisq_diff"], table["df_diff"], strict=True)
    ]
    return InvarianceResult(table=table, group=group,
                            options={"estimator": estimator.upper(), "steps": list(steps), "missing": missing,
                                     "group_partial": list(group_partial)},
                            fits=fits)


def _ordinal_invariance(model: str, data: pd.DataFrame, group: str, estimator: str, steps: tuple[str, ...],
                        missing: str, group_partial: Sequence[str], ordered: bool | Sequence[str] | None,
                        fit_ordinal: Callable[..., Any], summarize_ordinal: Callable[..., CFAResult]
                        ) -> InvarianceResult:
    """The ordinal sequence; with WLSMV each step is compared with the previous one by Satorra's (2000)
    scaled-and-shifted difference test, with DWLS by the plain difference of the statistics."""
    from .estimator_dwls import satorra_2000

    terms = parse_model(model)
    rows, fits, fitted_steps = [], {}, []
    for step in steps:
        fitted = fit_ordinal(terms, data, estimator=estimator, group=group, group_equal=ORDINAL_STEPS[step],
                             group_partial=group_partial, missing=missing,
                             ordered=True if ordered is None else ordered)
        options = {"estimator": fitted.estimator.name, "group": group, "group_equal": list(ORDINAL_STEPS[step]),
                   "group_partial": list(group_partial), "missing": missing, "parameterization": "delta"}
        result = summarize_ordinal(fitted, model, options)
        fits[step] = result
        fitted_steps.append(fitted)
        rows.append({key: result.fit[key] for key in ORDINAL_FIT_COLUMNS} | {"converged": result.converged})
    table = pd.DataFrame(rows, index=pd.Index(list(steps), name="step"))
    for column in ("cfi", "rmsea", "cfi_scaled", "rmsea_scaled"):
        table[f"delta_{column}"] = table[column].diff()
    table["chisq_diff_naive"] = table["chisq"].diff()
    robust = fitted_steps[0].estimator.robust
    differences = [dict.fromkeys(("chisq_diff", "df_diff", "p_diff", "diff_scale", "diff_shift"), np.nan)]
    for (previous, chisq1), (current, chisq0) in itertools.pairwise(zip(fitted_steps, table["chisq"], strict=True)):
        df = current.model.df - previous.model.df
        if robust:
            test = satorra_2000(previous.model, previous.optim.params, chisq1, current.model, current.optim.params,
                                chisq0, current.stats)
            differences.append({"chisq_diff": test.stat, "df_diff": df, "p_diff": test.pvalue,
                                "diff_scale": test.scale, "diff_shift": test.shift})
        else:
            naive = chisq0 - chisq1
            differences.append({"chisq_diff": naive, "df_diff": df, "diff_scale": np.nan, "diff_shift": np.nan,
                                "p_diff": float(stats.chi2.sf(max(naive, 0.0), df)) if df > 0 else np.nan})
    for column in differences[0]:
        table[column] = [d[column] for d in differences]
    return InvarianceResult(table=table, group=group,
                            options={"estimator": fitted_steps[0].estimator.name, "steps": list(steps),
                                     "missing": missing, "group_partial": list(group_partial), "ordered": True,
                                     "difference_test": "satorra.2000 scaled.shifted" if robust else "naive"},
                            fits=fits)
