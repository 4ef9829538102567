"""Test statistic and fit measures, as lavaan's fitMeasures() computes them.

- chisq = 2 N fmin (lavaan's fmin is half the ML discrepancy), df, p-value;
- the baseline (independence) model: free variances (and means) per group, zero covariances;
  with complete data its statistic has a closed form, sum_g N_g (sum log s_ii - log|S_g|);
- CFI = 1 - max(chisq - df, 0) / max(chisq - df, chisq_b - df_b, 0);
  TLI = (chisq_b/df_b - chisq/df) / (chisq_b/df_b - 1);
- RMSEA = sqrt(max(chisq/N/df - 1/N, 0)) * sqrt(G), the 90 % interval from the non-central
  chi-square (lavaan's lav_fit_rmsea_ci, solved here to full precision with brentq);
- SRMR = lavaan's "srmr" = srmr_bentler: residuals of the covariances scaled by the *sample*
  standard deviations (and mean residuals, with a mean structure), root mean square per group,
  then averaged with weights N_g / N;
- AIC = -2 logl + 2 npar, BIC = -2 logl + npar log N.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

# lavaan's default RMSEA interval level
RMSEA_CI_LEVEL = 0.90


def chisq_pvalue(chisq: float, df: int) -> float:
    return float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan")


def cfi(chisq: float, df: int, chisq_baseline: float, df_baseline: int) -> float:
    numerator = max(chisq - df, 0.0)
    denominator = max(chisq - df, chisq_baseline - df_baseline, 0.0)
    return 1.0 if numerator == 0 and denominator == 0 else 1.0 - numerator / denominator


def tli(chisq: float, df: int, chisq_baseline: float, df_baseline: int) -> float:
    if df <= 0 or df_baseline <= 0:
        return float("nan")
    baseline_ratio = chisq_baseline / df_baseline
    return (baseline_ratio - chisq / df) / (baseline_ratio - 1.0)


def rmsea(chisq: float, df: int, n: int, n_groups: int = 1) -> float:
    if df <= 0:
        return 0.0
    return float(np.sqrt(max(chisq / n / df - 1.0 / n, 0.0)) * np.sqrt(n_groups))


def rmsea_ci(chisq: float, df: int, n: int, n_groups: int = 1, level: float = RMSEA_CI_LEVEL
             ) -> tuple[float, float]:
    """The interval of lavaan's lav_fit_rmsea_ci: noncentrality values at which the observed
    statistic sits at the upper / lower (1 - level) / 2 tail."""
    upper_tail, lower_tail = 1 - (1 - level) / 2, (1 - level) / 2

    def cdf(ncp: float) -> float:
        # scipy's non-central chi-square wants ncp > 0; ncp = 0 is the central one
        return float(stats.ncx2.cdf(chisq, df, ncp)) if ncp > 0 else float(stats.chi2.cdf(chisq, df))

    def root(target: float, high: float) -> float:
        return optimize.brentq(lambda ncp: cdf(ncp) - target, 0.0, high, xtol=1e-12, rtol=1e-14)

    scale = np.sqrt(n_groups)
    if df < 1 or cdf(0.0) < upper_tail:
        lower = 0.0
    else:
        lower = float(np.sqrt(root(upper_tail, chisq) / (n * df)) * scale)
    high = max(n, chisq * 4)
    if df < 1 or cdf(high) > lower_tail or cdf(0.0) < lower_tail:
        upper = 0.0
    else:
        upper = float(np.sqrt(root(lower_tail, high) / (n * df)) * scale)
    return lower, upper


def srmr_bentler(sample: list[tuple[np.ndarray, np.ndarray]], implied: list[tuple[np.ndarray, np.ndarray]],
                 counts: list[int], meanstructure: bool) -> float:
    """lavaan's srmr (= srmr_bentler): per-group RMS of standardized residuals, N-weighted."""
    values = []
    for (cov, mean), (sigma, mu) in zip(sample, implied, strict=True):
        sd = np.sqrt(np.diag(cov))
        residual = (cov - sigma) / np.outer(sd, sd)
        lower = residual[np.tril_indices(len(sd))]
        squares, count = float(lower @ lower), lower.size
        if meanstructure:
            mean_residual = (mean - mu) / sd
            squares += float(mean_residual @ mean_residual)
            count += len(sd)
        values.append(np.sqrt(squares / count))
    weights = np.asarray(counts, dtype=float) / np.sum(counts)
    return float(weights @ np.asarray(values))


def baseline_chisq(covs: list[np.ndarray], counts: list[int]) -> tuple[float, int]:
    """Independence model on complete data: sum_g N_g (sum log s_ii - log|S_g|), df G p(p-1)/2."""
    chisq = 0.0
    for cov, n in zip(covs, counts, strict=True):
        chisq += n * (np.log(np.diag(cov)).sum() - np.linalg.slogdet(cov)[1])
    p = covs[0].shape[0]
    return float(chisq), len(covs) * p * (p - 1) // 2


def fit_measures(*, chisq: float, df: int, chisq_baseline: float, df_baseline: int, n: int, n_groups: int,
                 srmr: float, loglik: float, npar: int) -> dict[str, float]:
    lower, upper = rmsea_ci(chisq, df, n, n_groups)
    return {
        "chisq": float(chisq),
        "df": int(df),
        "pvalue": chisq_pvalue(chisq, df),
        "cfi": cfi(chisq, df, chisq_baseline, df_baseline),
        "tli": tli(chisq, df, chisq_baseline, df_baseline),
        "rmsea": rmsea(chisq, df, n, n_groups),
        "rmsea_ci_lower": lower,
        "rmsea_ci_upper": upper,
        "srmr": srmr,
        "aic": -2.0 * loglik + 2.0 * npar,
        "bic": -2.0 * loglik + npar * np.log(n),
        "n": int(n),
        "npar": int(npar),
        "loglik": float(loglik),
        "baseline_chisq": float(chisq_baseline),
        "baseline_df": int(df_baseline),
    }
