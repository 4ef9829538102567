"""Exploratory factor analysis, as ``psych::fa``: minres, maximum likelihood, principal axis.

The extraction, the sign and order conventions and the fit statistics follow psych 2.2.9
(``fa.R``: ``fac``, ``fit.residuals``, ``FAgr.minres``, ``FAfn``, ``FAgr``, ``FAout``,
``FAout.wls``; ``factor.stats.R``: ``fa.stats``) so that loadings, factor correlations and
chi-square agree with R. Rotations come from :mod:`rctscale.psychometrics.rotation`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from rctscale.errors import AnalysisError
from rctscale.psychometrics._checks import check_positive_definite
from rctscale.psychometrics._corr_input import correlation_input
from rctscale.psychometrics._result import Result
from rctscale.psychometrics.rotation import ROTATIONS, rotate

__all__ = ["EXTRACTION_METHODS", "EFAResult", "efa", "smc"]

EXTRACTION_METHODS = ("minres", "ml", "pa")
_FACTOR_PREFIX = {"minres": "MR", "ml": "ML", "pa": "PA"}

# psych bounds the uniquenesses to [.005, 1] in its optim calls; a uniqueness on the lower
# bound is a Heywood case (an item fully explained by the factors).
_LOWER_UNIQUENESS = 0.005
# R's optim(method="L-BFGS-B") defaults, which psych relies on: 5 correction pairs, stop when
# the relative reduction of the objective is below factr * machine epsilon, at most 100
# iterations, and psych's parscale of 0.01 on every uniqueness.
_LBFGSB_MEMORY = 5
_LBFGSB_FACTR = 1e7
_LBFGSB_MAX_ITER = 100
_PARSCALE = 0.01
# psych's principal-axis iteration: stop when the summed communalities change by less than
# min.err, give up after max.iter passes.
_PA_MIN_ERR = 0.001
_PA_MAX_ITER = 50
# fa.stats reports a 1 - alpha = 90 % interval for RMSEA (fa passes alpha = .1).
_RMSEA_ALPHA = 0.1


@dataclass(frozen=True)
class EFAResult(Result):
    """An exploratory factor analysis.

    Attributes
    ----------
    loadings : DataFrame
        Rotated loadings (pattern coefficients), items x factors, factors ordered and signed
        as ``psych::fa`` orders and signs them, and named as psych names them (MR1, MR2...).
    phi : DataFrame
        Factor correlations (the identity for orthogonal rotations).
    structure : DataFrame
        Structure coefficients ``loadings @ phi`` (item-factor correlations).
    communalities : Series
        ``h2``: variance of each item explained by the factors.
    uniquenesses : Series
        ``u2 = 1 - h2``.
    variance : DataFrame
        psych's ``Vaccounted``: SS loadings, proportion and cumulative variance.
    eigenvalues : DataFrame
        Eigenvalues of the correlation matrix (``correlation``) and of the correlation matrix
        with the communalities on its diagonal (``factor``; psych's ``values``).
    fit : dict
        Fit statistics as ``psych::fa`` reports them (see :func:`efa`).
    residuals : DataFrame
        Correlation matrix minus the correlations the factors reproduce.
    unrotated : DataFrame
        Loadings before rotation (signed so each column sums positive).
    rotation_matrix : DataFrame
        ``T`` with ``loadings = unrotated @ T``.
    correlation : DataFrame
        The correlation matrix that was factored.
    n_obs : int or None
        Number of respondents behind the correlations (None when a matrix came without it).
    converged : bool
        Whether extraction and rotation both converged.
    options : dict
        The options the analysis ran with.
    """

    loadings: pd.DataFrame
    phi: pd.DataFrame
    structure: pd.DataFrame
    communalities: pd.Series
    uniquenesses: pd.Series
    variance: pd.DataFrame
    eigenvalues: pd.DataFrame
    fit: dict[str, float]
    residuals: pd.DataFrame
    unrotated: pd.DataFrame
    rotation_matrix: pd.DataFrame
    correlation: pd.DataFrame
    n_obs: int | None
    converged: bool
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Extraction:
    loadings: np.ndarray  # unrotated, items x factors
    factor_eigenvalues: np.ndarray  # eigenvalues of R with the communalities on the diagonal
    uniquenesses: np.ndarray  # the optimizer's parameters (1 - communality estimates)
    converged: bool
    iterations: int


# --- building blocks shared with dimensionality and omega ---


def smc(correlation: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Squared multiple correlations ``1 - 1/diag(R^-1)``, as ``psych::smc``.

    psych inverts with a pseudo-inverse (``Pinv``) and clips the results into [0, 1], so a
    singular matrix still yields usable starting communalities.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.efa import smc
    >>> r = np.array([[1, .5, .4], [.5, 1, .3], [.4, .3, 1]])
    >>> smc(r).round(4).tolist()  # R: psych::smc(r)
    [0.3187, 0.2619, 0.1733]
    """
    values = np.asarray(correlation, dtype=float)
    inverse = np.linalg.pinv(values, rcond=math.sqrt(np.finfo(float).eps), hermitian=True)
    return np.clip(1.0 - 1.0 / np.diag(inverse), 0.0, 1.0)


def _eigh_descending(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(matrix)
    return values[::-1], vectors[:, ::-1]


def _loadings_from_reduced(correlation: np.ndarray, uniquenesses: np.ndarray, n_factors: int) -> np.ndarray:
    """psych's ``FAout.wls``: the first eigenvectors of ``R - diag(psi)`` scaled by sqrt(eigenvalue)."""
    values, vectors = _eigh_descending(correlation - np.diag(uniquenesses))
    return vectors[:, :n_factors] * np.sqrt(np.maximum(values[:n_factors], 0.0))


def _minres_objective(uniquenesses: np.ndarray, correlation: np.ndarray, n_factors: int) -> float:
    """psych's ``fit.residuals`` (fm="minres"): sum of squared off-diagonal residuals."""
    reduced = correlation.copy()
    np.fill_diagonal(reduced, np.diag(correlation) - uniquenesses)
    values, vectors = _eigh_descending(reduced)
    eps = np.finfo(float).eps
    values = np.where(values < eps, 100 * eps, values)
    loadings = vectors[:, :n_factors] * np.sqrt(values[:n_factors])
    residual = reduced - loadings @ loadings.T
    lower = np.tril_indices_from(residual, k=-1)
    return float(np.sum(residual[lower] ** 2))


def _minres_gradient(uniquenesses: np.ndarray, correlation: np.ndarray, n_factors: int) -> np.ndarray:
    """psych's ``FAgr.minres``: the diagonal residual, zero where the objective is stationary."""
    loadings = _loadings_from_reduced(correlation, uniquenesses, n_factors)
    return np.sum(loadings**2, axis=1) + uniquenesses - np.diag(correlation)


def _ml_objective(uniquenesses: np.ndarray, correlation: np.ndarray, n_factors: int) -> float:
    """psych's (and factanal's) ``FAfn``: the ML discrepancy profiled over the loadings."""
    scale = 1.0 / np.sqrt(uniquenesses)
    values = np.linalg.eigvalsh(correlation * np.outer(scale, scale))[::-1][n_factors:]
    return -float(np.sum(np.log(values) - values) - n_factors + correlation.shape[0])


def _ml_loadings(uniquenesses: np.ndarray, correlation: np.ndarray, n_factors: int) -> np.ndarray:
    """psych's (and factanal's) ``FAout``."""
    root = np.sqrt(uniquenesses)
    values, vectors = _eigh_descending(correlation / np.outer(root, root))
    return root[:, None] * vectors[:, :n_factors] * np.sqrt(np.maximum(values[:n_factors] - 1.0, 0.0))


def _ml_gradient(uniquenesses: np.ndarray, correlation: np.ndarray, n_factors: int) -> np.ndarray:
    """psych's (and factanal's) ``FAgr``."""
    loadings = _ml_loadings(uniquenesses, correlation, n_factors)
    return (np.sum(loadings**2, axis=1) + uniquenesses - np.diag(correlation)) / uniquenesses**2


def _optimize_uniquenesses(
    objective, gradient, correlation: np.ndarray, n_factors: int, start: np.ndarray
) -> optimize.OptimizeResult:
    """R's ``optim(start, fn, gr, method="L-BFGS-B", lower=.005, upper=1, parscale=.01)``."""
    upper = max(1.0, float(np.max(1.0 - start)))  # psych: upper <- max(S.smc, 1)
    return optimize.minimize(
        lambda x: objective(x * _PARSCALE, correlation, n_factors),
        start / _PARSCALE,
        jac=lambda x: gradient(x * _PARSCALE, correlation, n_factors) * _PARSCALE,
        method="L-BFGS-B",
        bounds=[(_LOWER_UNIQUENESS / _PARSCALE, upper / _PARSCALE)] * len(start),
        options={
            "maxcor": _LBFGSB_MEMORY,
            "ftol": _LBFGSB_FACTR * np.finfo(float).eps,
            "gtol": 0.0,
            "maxiter": _LBFGSB_MAX_ITER,
        },
    )


def _factor_eigenvalues(correlation: np.ndarray, loadings: np.ndarray) -> np.ndarray:
    reduced = correlation.copy()
    np.fill_diagonal(reduced, np.sum(loadings**2, axis=1))
    return np.linalg.eigvalsh(reduced)[::-1]


def _extract(correlation: np.ndarray, n_factors: int, method: str, smc_start: bool = True) -> _Extraction:
    """Unrotated loadings by psych's minres, ml or pa.

    ``smc_start=False`` is psych's ``SMC=FALSE``: principal axes then start from unit
    communalities (minres and ml start from ``1 - smc`` uniquenesses either way, as in psych).
    """
    start = 1.0 - smc(correlation)  # psych: diag(S) - smc(S)
    if method == "minres":
        fit = _optimize_uniquenesses(_minres_objective, _minres_gradient, correlation, n_factors, start)
        psi = fit.x * _PARSCALE
        loadings = _loadings_from_reduced(correlation, psi, n_factors)
        return _Extraction(
            loadings, _factor_eigenvalues(correlation, loadings), psi, bool(fit.success), int(fit.nit)
        )
    if method == "ml":
        fit = _optimize_uniquenesses(_ml_objective, _ml_gradient, correlation, n_factors, start)
        psi = fit.x * _PARSCALE
        loadings = _ml_loadings(psi, correlation, n_factors)
        return _Extraction(
            loadings, _factor_eigenvalues(correlation, loadings), psi, bool(fit.success), int(fit.nit)
        )
    if method == "pa":
        return _principal_axis(correlation, n_factors, smc_start)
    raise AnalysisError(
        f"unknown extraction method '{method}'; choose one of {', '.join(EXTRACTION_METHODS)}"
    )


def _principal_axis(correlation: np.ndarray, n_factors: int, smc_start: bool = True) -> _Extraction:
    """psych's fm="pa": iterate eigen-decompositions, communalities replacing the diagonal."""
    reduced = correlation.copy()
    if smc_start:
        np.fill_diagonal(reduced, smc(correlation))
    total = float(np.trace(reduced))
    change = total
    iteration = 1
    converged = True
    values = np.linalg.eigvalsh(reduced)[::-1]
    loadings = np.zeros((len(correlation), n_factors))
    while change > _PA_MIN_ERR:
        values, vectors = _eigh_descending(reduced)
        if np.any(values[:n_factors] < 0):
            warnings.warn(
                "principal axis factoring met a negative eigenvalue among the retained "
                "factors: the communalities are improper; extract fewer factors or use "
                "method='minres'",
                RuntimeWarning,
                stacklevel=4,
            )
        loadings = vectors[:, :n_factors] * np.sqrt(np.maximum(values[:n_factors], 0.0))
        communalities = np.sum(loadings**2, axis=1)
        new_total = float(communalities.sum())
        np.fill_diagonal(reduced, communalities)
        change = abs(total - new_total)
        total = new_total
        iteration += 1
        if iteration > _PA_MAX_ITER:
            converged = change <= _PA_MIN_ERR
            break
    return _Extraction(loadings, values, 1.0 - np.sum(loadings**2, axis=1), converged, iteration - 1)


def _signs_by_column_sum(loadings: np.ndarray) -> np.ndarray:
    signs = np.sign(loadings.sum(axis=0))
    signs[signs == 0] = 1.0
    return signs


# --- fit statistics (psych's fa.stats) ---


def _cor_smooth(matrix: np.ndarray) -> np.ndarray:
    """psych's ``cor.smooth``: make a not-positive-definite correlation matrix positive definite."""
    values, vectors = np.linalg.eigh(matrix)
    if values.min() >= np.finfo(float).eps:
        return matrix
    values = np.where(values < 1e-12, 100 * 1e-12, values)
    values = values * len(values) / values.sum()
    smoothed = (vectors * values) @ vectors.T
    scale = 1.0 / np.sqrt(np.diag(smoothed))
    return smoothed * np.outer(scale, scale)


def _ncp_root(statistic: float, dof: float, probability: float, upper: float) -> float:
    """The noncentrality whose chi-square CDF at ``statistic`` is ``probability`` (R's uniroot)."""

    def distance(ncp: float) -> float:
        cdf = stats.chi2.cdf(statistic, dof) if ncp <= 0 else stats.ncx2.cdf(statistic, dof, ncp)
        return float(cdf - probability)

    if distance(0.0) * distance(upper) > 0:
        return float("nan")
    return float(optimize.brentq(distance, 0.0, upper, xtol=1e-12))


def _fit_statistics(
    correlation: np.ndarray,
    loadings: np.ndarray,
    phi: np.ndarray,
    n_obs: int | None,
    pair_counts: np.ndarray | None,
) -> dict[str, float]:
    """The fit statistics of ``psych::fa`` (its ``fa.stats``)."""
    p, k = loadings.shape
    nan = float("nan")
    model = loadings @ phi @ loadings.T
    residual = correlation - model
    dof = p * (p - 1) / 2 - p * k + k * (k - 1) / 2
    squared_total = float(np.sum(correlation**2))
    residual_total = float(np.sum(residual**2))
    np.fill_diagonal(residual, 0.0)
    if pair_counts is None:
        # psych's r2.off: sum(r^2) - tr(r), which counts the unit diagonal once, not squared
        correlation_off = squared_total - float(np.trace(correlation))
        residual_off = float(np.sum(residual**2))
        n_eff = float(n_obs) if n_obs is not None else nan
        empirical_chisq = residual_off * n_eff
        rms = math.sqrt(residual_off / (p * (p - 1)))
        crms = math.sqrt(residual_off / (2 * dof)) if dof > 0 else nan
    else:
        # raw data: each residual weighted by the respondents behind its correlation
        weighted = correlation**2 * pair_counts
        correlation_off = float(weighted.sum() - np.trace(weighted))
        residual_off = float(np.sum(residual**2 * pair_counts))
        n_eff = float(stats.hmean(pair_counts.ravel()))
        empirical_chisq = residual_off
        rms = math.sqrt(residual_off / (n_eff * p * (p - 1)))
        crms = math.sqrt(residual_off / (2 * n_eff * dof)) if dof > 0 else nan
    fit: dict[str, float] = {
        "objective": nan,
        "chisq": nan,
        "dof": float(dof),
        "pvalue": nan,
        "rmsea": nan,
        "rmsea_ci_lower": nan,
        "rmsea_ci_upper": nan,
        "tli": nan,
        "bic": nan,
        "null_chisq": nan,
        "null_dof": p * (p - 1) / 2,
        "null_objective": nan,
        "empirical_chisq": empirical_chisq,
        "empirical_pvalue": float(stats.chi2.sf(empirical_chisq, dof)) if dof > 0 else nan,
        "empirical_bic": empirical_chisq - dof * math.log(n_eff) if dof > 0 else nan,
        "rms": rms,
        "crms": crms,
        "fit": 1 - residual_total / squared_total,
        "fit_off": 1 - residual_off / correlation_off,
        "n_obs": float(n_obs) if n_obs is not None else nan,
    }
    np.fill_diagonal(model, np.diag(correlation))
    model = _cor_smooth(model)
    smoothed = _cor_smooth(correlation)
    try:
        ratio = np.linalg.solve(model, smoothed)
    except np.linalg.LinAlgError:
        warnings.warn(
            "the reproduced correlation matrix is singular, so the chi-square and the fit "
            "indices that depend on it are not defined",
            RuntimeWarning,
            stacklevel=3,
        )
        return fit
    sign, log_det = np.linalg.slogdet(ratio)
    objective = float(np.trace(ratio) - log_det - p) if sign > 0 else residual_total
    sign0, log_det0 = np.linalg.slogdet(smoothed)
    null_objective = float(np.trace(smoothed) - log_det0 - p) if sign0 > 0 else squared_total
    fit["objective"] = objective
    fit["null_objective"] = null_objective
    if n_obs is None:
        return fit
    n = float(n_obs)
    multiplier = (n - 1) - (2 * p + 5) / 6 - (2 * k) / 3  # Bartlett's correction, as factanal and psych
    chisq = max(objective * multiplier, 0.0)
    fit["chisq"] = chisq
    fit["null_chisq"] = null_objective * ((n - 1) - (2 * p + 5) / 6)
    if dof > 0:
        fit["pvalue"] = float(stats.chi2.sf(chisq, dof))
    null_mean = null_objective * 2 / (p * (p - 1))
    model_mean = objective / dof if dof != 0 else nan
    fit["tli"] = (null_mean - model_mean) / (null_mean - 1 / multiplier)
    if dof > 0:
        rmsea = math.sqrt(max(chisq / (dof * n) - 1 / (n - 1), 0.0))
        tail = _RMSEA_ALPHA / 2
        upper_ncp = max(n, chisq) + 2 * n
        cdf = stats.chi2.cdf(chisq, dof)
        upper = 0.0
        if cdf > tail:
            root = _ncp_root(chisq, dof, tail, upper_ncp)
            upper = math.sqrt(root / (n - 1) / dof) if not math.isnan(root) else (0.0 if rmsea <= 0 else nan)
        lower = 0.0
        if cdf > 1 - tail:
            root = _ncp_root(chisq, dof, 1 - tail, upper_ncp)
            lower = math.sqrt(root / (n - 1) / dof) if not math.isnan(root) else nan
        # psych reports a bound that falls on the wrong side of the estimate as missing
        fit["rmsea"] = rmsea
        fit["rmsea_ci_lower"] = nan if lower > rmsea else lower
        fit["rmsea_ci_upper"] = nan if upper < rmsea else upper
        fit["bic"] = chisq - dof * math.log(n)
    return fit


# --- the public function ---


def efa(
    data: pd.DataFrame | np.ndarray,
    n_factors: int = 1,
    method: str = "minres",
    rotation: str = "oblimin",
    corr: str = "pearson",
    n_obs: int | None = None,
) -> EFAResult:
    """Exploratory factor analysis, as ``psych::fa``.

    The common factor model writes the correlation matrix as ``R = Lambda Phi Lambda' + Psi``
    with ``k`` factors. The uniquenesses ``Psi`` are estimated by

    - ``"minres"`` (psych's default): minimize the sum of squared off-diagonal residuals
      ``sum_{i<j} (r_ij - (Lambda Lambda')_ij)^2`` where ``Lambda`` holds the first ``k``
      eigenvectors of ``R - Psi`` scaled by the square roots of their eigenvalues (Harman &
      Jones, 1966), with psych's L-BFGS-B search and gradient;
    - ``"ml"``: maximum likelihood, minimizing ``F = tr(Sigma^-1 R) - log|Sigma^-1 R| - p``
      (Joreskog, 1967), the profile likelihood of ``factanal`` and psych;
    - ``"pa"``: principal axes, iterating the eigen-decomposition of ``R`` with communalities
      on the diagonal (starting from squared multiple correlations) until their sum changes by
      less than 0.001 (at most 50 passes), as psych does.

    The loadings are then rotated (``"oblimin"`` = quartimin, ``"quartimin"``, ``"geomin"``,
    ``"promax"``, ``"varimax"``, ``"none"``; see :mod:`rctscale.psychometrics.rotation`). As in
    psych, each factor is signed so its loadings sum positive, and factors are ordered by the
    variance they explain, ``diag(Phi Lambda' Lambda)``.

    ``fit`` holds psych's statistics: ``objective`` (the ML discrepancy ``F`` of the fitted
    model), ``chisq = F (n - 1 - (2p + 5)/6 - 2k/3)`` (psych's ``STATISTIC``, Bartlett's
    correction), ``dof = p(p-1)/2 - pk + k(k-1)/2``, ``pvalue``,
    ``rmsea = sqrt(max(chisq/(dof n) - 1/(n-1), 0))`` with its 90 % interval (bounds reported
    missing when they fall on the wrong side of the estimate, as psych does), the Tucker-Lewis
    index ``tli``, ``bic = chisq - dof log(n)``, the null model's ``null_chisq``/``null_dof``,
    and the empirical (residual-based) ``empirical_chisq``, ``rms`` and ``crms``, weighted by
    the pairwise sample sizes when raw data are given.

    Parameters
    ----------
    data : DataFrame or ndarray
        Item responses (one row per respondent; correlated pairwise-complete, like psych) or a
        correlation matrix (then give ``n_obs`` for the chi-square and fit indices).
    n_factors : int
        Number of factors.
    method : {"minres", "ml", "pa"}
        Extraction method.
    rotation : str
        Rotation (a key of :data:`rctscale.psychometrics.rotation.ROTATIONS`).
    corr : {"pearson", "polychoric"}
        Correlation type for raw data.
    n_obs : int, optional
        Number of respondents, when ``data`` is a correlation matrix.

    Returns
    -------
    EFAResult

    Raises
    ------
    AnalysisError
        For too many factors (negative degrees of freedom), a singular correlation matrix,
        fewer respondents than items, constant or non-numeric items.

    Warns
    -----
    RuntimeWarning
        For Heywood cases (a uniqueness at its lower bound or a communality of 1 or more) and
        when the extraction or the rotation did not converge.

    References
    ----------
    Revelle, W. (2022). *psych: Procedures for psychological, psychometric, and personality
    research* (R package 2.2.9), function ``fa``.

    Harman, H. H., & Jones, W. H. (1966). Factor analysis by minimizing residuals (minres).
    *Psychometrika*, 31, 351-368.

    Joreskog, K. G. (1967). Some contributions to maximum likelihood factor analysis.
    *Psychometrika*, 32, 443-482.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from rctscale.psychometrics.efa import efa
    >>> rng = np.random.default_rng(1)
    >>> factors = rng.multivariate_normal([0, 0], [[1, .3], [.3, 1]], size=500)
    >>> pattern = np.array([[.8, 0], [.7, 0], [.6, 0], [0, .8], [0, .7], [0, .6]])
    >>> noise = rng.normal(size=(500, 6)) * np.sqrt(1 - (pattern**2).sum(axis=1))
    >>> items = pd.DataFrame(factors @ pattern.T + noise, columns=[f"x{i}" for i in range(1, 7)])
    >>> result = efa(items, n_factors=2)
    >>> result.loadings.abs().idxmax(axis=1).tolist()  # factors ordered by variance explained
    ['MR2', 'MR2', 'MR2', 'MR1', 'MR1', 'MR1']
    >>> result.fit["dof"]
    4.0
    """
    if isinstance(n_factors, bool) or int(n_factors) != n_factors or n_factors < 1:
        raise AnalysisError(f"n_factors must be a positive whole number, got {n_factors!r}")
    n_factors = int(n_factors)
    method = method.lower()
    if method not in EXTRACTION_METHODS:
        raise AnalysisError(
            f"unknown extraction method '{method}'; choose one of {', '.join(EXTRACTION_METHODS)}"
        )
    if rotation.lower() not in ROTATIONS:
        raise AnalysisError(f"unknown rotation '{rotation}'; choose one of {', '.join(sorted(ROTATIONS))}")
    given = correlation_input(data, corr=corr, n_obs=n_obs, min_items=3)
    names = list(given.matrix.columns)
    p = len(names)
    if given.items is not None and len(given.items) < p:
        raise AnalysisError(
            f"there are fewer respondents ({len(given.items)}) than items ({p}): the "
            "correlation matrix is singular and factors cannot be estimated; collect "
            "more responses or analyse fewer items"
        )
    if given.n_obs is not None and given.n_obs < p:
        raise AnalysisError(
            f"n_obs ({given.n_obs}) is smaller than the number of items ({p}); "
            "factor analysis needs more respondents than items"
        )
    dof = p * (p - 1) / 2 - p * n_factors + n_factors * (n_factors - 1) / 2
    if dof < 0:
        most = max(k for k in range(1, p + 1) if p * (p - 1) / 2 - p * k + k * (k - 1) / 2 >= 0)
        raise AnalysisError(
            f"{n_factors} factors are too many for {p} items: the model would have "
            f"{dof:g} degrees of freedom; ask for at most {most} factor(s)"
        )
    correlation = given.matrix.to_numpy(dtype=float)
    check_positive_definite(correlation)
    return _efa_from_correlation(
        correlation, names, n_factors, method, rotation.lower(), given.n_obs, given.pair_counts, corr
    )


def _efa_from_correlation(
    correlation: np.ndarray,
    names: list[str],
    n_factors: int,
    method: str,
    rotation: str,
    n_obs: int | None,
    pair_counts: np.ndarray | None,
    corr: str,
) -> EFAResult:
    extraction = _extract(correlation, n_factors, method)
    if not extraction.converged:
        warnings.warn(
            f"the {method} extraction did not converge in {extraction.iterations} iterations "
            "(psych's limits); the loadings may be inaccurate: the model may have too many "
            "factors for these data",
            RuntimeWarning,
            stacklevel=3,
        )
    prefix = _FACTOR_PREFIX[method]
    labels = [f"{prefix}{j + 1}" for j in range(n_factors)]
    unrotated = extraction.loadings * _signs_by_column_sum(extraction.loadings)
    # psych replaces exact zeros so that varimax does not divide by zero
    unrotated = np.where(unrotated == 0.0, 1e-15, unrotated)
    rotation_matrix = np.eye(n_factors)
    phi = np.eye(n_factors)
    rotated = unrotated
    rotation_converged = True
    oblique = False
    if n_factors > 1 and rotation != "none":
        rotated_result = rotate(unrotated, rotation)
        rotated = rotated_result.loadings.to_numpy()
        rotation_matrix = rotated_result.rotation.to_numpy()
        oblique = not rotated_result.orthogonal
        phi = rotated_result.phi.to_numpy() if oblique else np.eye(n_factors)
        rotation_converged = rotated_result.converged
        if not rotation_converged:
            warnings.warn(
                f"the {rotation} rotation did not converge in {rotated_result.iterations} "
                "iterations; the rotated loadings are not at the criterion's optimum",
                RuntimeWarning,
                stacklevel=3,
            )
    signs = _signs_by_column_sum(rotated)
    rotated = rotated * signs
    phi = phi * np.outer(signs, signs)
    rotation_matrix = rotation_matrix * signs
    if n_factors > 1:
        explained = np.diag(phi @ rotated.T @ rotated)
        order = np.argsort(-explained, kind="stable")
        rotated, rotation_matrix = rotated[:, order], rotation_matrix[:, order]
        phi = phi[np.ix_(order, order)]
        labels = [labels[j] for j in order]
    unrotated_model = unrotated @ unrotated.T
    communalities = np.diag(unrotated_model).copy()
    _warn_heywood(communalities, extraction.uniquenesses, names, method)
    explained = np.diag(phi @ rotated.T @ rotated)
    total = float(np.trace(correlation))
    variance = pd.DataFrame(
        [
            explained,
            explained / total,
            np.cumsum(explained) / total,
            explained / explained.sum(),
            np.cumsum(explained) / explained.sum(),
        ],
        index=[
            "SS loadings",
            "Proportion Var",
            "Cumulative Var",
            "Proportion Explained",
            "Cumulative Proportion",
        ],
        columns=labels,
    )
    fit = _fit_statistics(correlation, rotated, phi, n_obs, pair_counts)
    model = rotated @ phi @ rotated.T
    eigenvalues = pd.DataFrame(
        {"correlation": np.linalg.eigvalsh(correlation)[::-1], "factor": extraction.factor_eigenvalues},
        index=pd.RangeIndex(1, len(names) + 1, name="number"),
    )
    loadings = pd.DataFrame(rotated, index=names, columns=labels)
    phi_frame = pd.DataFrame(phi, index=labels, columns=labels)
    return EFAResult(
        loadings=loadings,
        phi=phi_frame,
        structure=pd.DataFrame(rotated @ phi, index=names, columns=labels),
        communalities=pd.Series(communalities, index=names, name="h2"),
        uniquenesses=pd.Series(1.0 - communalities, index=names, name="u2"),
        variance=variance,
        eigenvalues=eigenvalues,
        fit=fit,
        residuals=pd.DataFrame(correlation - model, index=names, columns=names),
        unrotated=pd.DataFrame(
            unrotated, index=names, columns=[f"{prefix}{j + 1}" for j in range(n_factors)]
        ),
        rotation_matrix=pd.DataFrame(
            rotation_matrix, index=[f"{prefix}{j + 1}" for j in range(n_factors)], columns=labels
        ),
        correlation=pd.DataFrame(correlation, index=names, columns=names),
        n_obs=n_obs,
        converged=extraction.converged and rotation_converged,
        options={
            "n_factors": n_factors,
            "method": method,
            "rotation": rotation,
            "corr": corr,
            "n_obs": n_obs,
            "oblique": oblique,
            "extraction_iterations": extraction.iterations,
        },
    )


def _warn_heywood(communalities: np.ndarray, uniquenesses: np.ndarray, names: list[str], method: str) -> None:
    ultra = [name for name, h2 in zip(names, communalities, strict=True) if h2 > 1.0]
    if ultra:
        warnings.warn(
            f"ultra-Heywood case: the communality of {', '.join(ultra)} exceeds 1, which is "
            "impossible for a correlation matrix; the solution is improper — extract fewer "
            "factors, drop the item, or check the data",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    if method == "pa":
        bounded = [
            name for name, h2 in zip(names, communalities, strict=True) if h2 >= 1.0 - _LOWER_UNIQUENESS
        ]
    else:
        bounded = [
            name
            for name, psi in zip(names, uniquenesses, strict=True)
            if psi <= _LOWER_UNIQUENESS * (1 + 1e-6)
        ]
    if bounded:
        warnings.warn(
            f"Heywood case: {', '.join(bounded)} has a uniqueness at its lower bound "
            f"({_LOWER_UNIQUENESS}), i.e. the factors explain (almost) all of its variance; "
            "the estimates may be improper — consider fewer factors",
            RuntimeWarning,
            stacklevel=4,
        )
