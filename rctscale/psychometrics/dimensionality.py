"""How many factors? Sampling adequacy, sphericity, eigenvalues, parallel analysis and MAP.

Each function follows its ``psych`` counterpart (2.2.9): :func:`kmo` is ``psych::KMO``,
:func:`bartlett` is ``psych::cortest.bartlett``, :func:`parallel_analysis` is
``psych::fa.parallel`` and :func:`velicer_map` is the MAP criterion of ``psych::vss``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rctscale.errors import AnalysisError
from rctscale.psychometrics._checks import check_positive_definite
from rctscale.psychometrics._corr_input import correlation_input
from rctscale.psychometrics._result import Result
from rctscale.psychometrics.efa import EXTRACTION_METHODS, _extract

# resampled data sets in which an item came out constant are drawn again, this many times at most
_MAX_REDRAWS = 100

__all__ = [
    "BartlettResult",
    "KMOResult",
    "MAPResult",
    "ParallelResult",
    "bartlett",
    "eigenvalues",
    "kmo",
    "parallel_analysis",
    "velicer_map",
]


@dataclass(frozen=True)
class KMOResult(Result):
    """Kaiser-Meyer-Olkin measure of sampling adequacy.

    Attributes
    ----------
    overall : float
        Overall MSA.
    items : Series
        MSA of each item.
    anti_image : DataFrame
        Anti-image correlations (partial correlations, sign reversed off the diagonal).
    """

    overall: float
    items: pd.Series
    anti_image: pd.DataFrame


@dataclass(frozen=True)
class BartlettResult(Result):
    """Bartlett's test that the correlation matrix is an identity matrix."""

    chisq: float
    df: int
    pvalue: float
    n_obs: int


@dataclass(frozen=True)
class ParallelResult(Result):
    """Horn's parallel analysis.

    Attributes
    ----------
    n_factors : int
        Leading factor eigenvalues larger than the ``quantile`` of the simulated ones.
    n_components : int
        Leading component eigenvalues larger than the ``quantile`` of the simulated ones.
    table : DataFrame
        One row per eigenvalue number: observed component and factor eigenvalues, the
        ``quantile`` and mean of the simulated (normal) and resampled (column-permuted) ones.
    options : dict
        The options the analysis ran with.
    """

    n_factors: int
    n_components: int
    table: pd.DataFrame
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MAPResult(Result):
    """Velicer's minimum average partial criterion.

    Attributes
    ----------
    map : Series
        Average squared partial correlation after partialling out 1, 2, ... components.
    n_factors : int
        Number of components at the minimum.
    """

    map: pd.Series
    n_factors: int


def kmo(items: pd.DataFrame | np.ndarray, corr: str = "pearson") -> KMOResult:
    """Kaiser-Meyer-Olkin measure of sampling adequacy, as ``psych::KMO``.

    With ``R`` the correlation matrix and ``Q`` the partial correlations (the correlations
    of ``R^{-1}``, which psych takes as ``cov2cor(R^{-1})``),

    .. math:: \\mathrm{MSA} = \\frac{\\sum_{i\\neq j} r_{ij}^2}
              {\\sum_{i\\neq j} r_{ij}^2 + \\sum_{i\\neq j} q_{ij}^2},
              \\qquad
              \\mathrm{MSA}_j = \\frac{\\sum_{i\\neq j} r_{ij}^2}
              {\\sum_{i\\neq j} r_{ij}^2 + \\sum_{i\\neq j} q_{ij}^2}.

    Values above .8 are "meritorious", below .5 "unacceptable" (Kaiser, 1974).

    Parameters
    ----------
    items : DataFrame or ndarray
        Item responses (correlated pairwise-complete) or a correlation matrix.
    corr : {"pearson", "polychoric"}
        Correlation type for raw data.

    Returns
    -------
    KMOResult

    References
    ----------
    Kaiser, H. F. (1970). A second generation little jiffy. *Psychometrika*, 35, 401-415.

    Kaiser, H. F., & Rice, J. (1974). Little jiffy, mark IV. *Educational and Psychological
    Measurement*, 34, 111-117.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.dimensionality import kmo
    >>> r = np.array([[1, .5, .4, .3], [.5, 1, .45, .35], [.4, .45, 1, .3], [.3, .35, .3, 1]])
    >>> round(kmo(r).overall, 4)  # R: psych::KMO(r)$MSA
    0.7414
    """
    given = correlation_input(items, corr=corr)
    correlation = given.matrix.to_numpy()
    check_positive_definite(correlation)
    inverse = np.linalg.inv(correlation)
    scale = 1.0 / np.sqrt(np.diag(inverse))
    partial = inverse * np.outer(scale, scale)
    anti_image = -partial
    np.fill_diagonal(anti_image, 1.0)
    np.fill_diagonal(partial, 0.0)
    off = correlation.copy()
    np.fill_diagonal(off, 0.0)
    r2 = np.sum(off**2, axis=0)
    q2 = np.sum(partial**2, axis=0)
    names = list(given.matrix.columns)
    return KMOResult(
        overall=float(r2.sum() / (r2.sum() + q2.sum())),
        items=pd.Series(r2 / (r2 + q2), index=names, name="MSA"),
        anti_image=pd.DataFrame(anti_image, index=names, columns=names),
    )


def bartlett(
    items: pd.DataFrame | np.ndarray, n_obs: int | None = None, corr: str = "pearson"
) -> BartlettResult:
    """Bartlett's (1951) test of sphericity, as ``psych::cortest.bartlett``.

    .. math:: \\chi^2 = -\\Big(n - 1 - \\frac{2p + 5}{6}\\Big)\\log|R|, \\qquad df = p(p-1)/2.

    A significant result says the items are correlated, so factoring them makes sense.

    Parameters
    ----------
    items : DataFrame or ndarray
        Item responses (``n`` is then the number of rows, as psych counts it) or a correlation
        matrix (then ``n_obs`` is required; psych would assume 100).
    n_obs : int, optional
        Number of respondents behind a correlation matrix.
    corr : {"pearson", "polychoric"}
        Correlation type for raw data.

    Returns
    -------
    BartlettResult

    References
    ----------
    Bartlett, M. S. (1951). The effect of standardization on a chi square approximation in
    factor analysis. *Biometrika*, 38, 337-344.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.dimensionality import bartlett
    >>> r = np.array([[1, .5, .4], [.5, 1, .3], [.4, .3, 1]])
    >>> result = bartlett(r, n_obs=200)
    >>> round(result.chisq, 3), result.df  # R: psych::cortest.bartlett(r, n = 200)
    (94.253, 3)
    """
    given = correlation_input(items, corr=corr, n_obs=n_obs)
    if given.n_obs is None:
        raise AnalysisError(
            "Bartlett's test of a correlation matrix needs the number of respondents: pass n_obs"
        )
    correlation = given.matrix.to_numpy()
    # a singular matrix has log|R| = -inf: the statistic would be a meaningless huge number
    check_positive_definite(correlation)
    _, log_det = np.linalg.slogdet(correlation)
    p = correlation.shape[0]
    n = given.n_obs
    chisq = -log_det * (n - 1 - (2 * p + 5) / 6)
    df = p * (p - 1) // 2
    return BartlettResult(chisq=float(chisq), df=df, pvalue=float(stats.chi2.sf(chisq, df)), n_obs=n)


def eigenvalues(items: pd.DataFrame | np.ndarray, corr: str = "pearson") -> pd.Series:
    """Eigenvalues of the correlation matrix, largest first: the scree (Cattell, 1966).

    The eigenvalues ``mu_1 >= ... >= mu_p`` of ``R`` sum to ``p``; ``mu_j / p`` is the share of
    the total variance the ``j``-th principal component carries.

    Parameters
    ----------
    items : DataFrame or ndarray
        Item responses (correlated pairwise-complete) or a correlation matrix.
    corr : {"pearson", "polychoric"}
        Correlation type for raw data.

    Returns
    -------
    Series
        Indexed 1..p.

    References
    ----------
    Cattell, R. B. (1966). The scree test for the number of factors. *Multivariate Behavioral
    Research*, 1, 245-276.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.dimensionality import eigenvalues
    >>> eigenvalues(np.array([[1, .5], [.5, 1]])).tolist()
    [1.5, 0.5]
    """
    given = correlation_input(items, corr=corr)
    values = np.linalg.eigvalsh(given.matrix.to_numpy())[::-1]
    return pd.Series(values, index=pd.RangeIndex(1, len(values) + 1, name="number"), name="eigenvalue")


# --- parallel analysis ---


def _batched_pairwise_pearson(samples: np.ndarray) -> np.ndarray:
    """Pairwise-complete Pearson correlations of each (n x p) sample in a (b, n, p) stack."""
    observed = ~np.isnan(samples)
    if observed.all():
        centred = samples - samples.mean(axis=1, keepdims=True)
        covariance = np.matmul(centred.transpose(0, 2, 1), centred)
        scale = 1.0 / np.sqrt(np.einsum("bii->bi", covariance))
        return covariance * scale[:, :, None] * scale[:, None, :]
    mask = observed.astype(float)
    # centre on the column means first to limit cancellation in the sums of products
    centred = np.where(observed, samples - np.nanmean(samples, axis=1, keepdims=True), 0.0)
    transposed = centred.transpose(0, 2, 1)
    counts = np.matmul(mask.transpose(0, 2, 1), mask)
    sum_x = np.matmul(transposed, mask)  # [i, j]: sum of item i over rows where j is answered
    sum_xx = np.matmul((centred**2).transpose(0, 2, 1), mask)
    sum_xy = np.matmul(transposed, centred)
    with np.errstate(invalid="ignore", divide="ignore"):
        covariance = sum_xy - sum_x * sum_x.transpose(0, 2, 1) / counts
        variance_x = sum_xx - sum_x**2 / counts
        correlation = covariance / np.sqrt(variance_x * variance_x.transpose(0, 2, 1))
    for block in correlation:
        np.fill_diagonal(block, 1.0)
    return correlation


def _factor_values(correlations: np.ndarray, fm: str) -> np.ndarray:
    """psych's ``fa(r, 1, fm=fm)$values`` for each matrix of a stack."""
    return np.stack([_extract(matrix, 1, fm, smc_start=False).factor_eigenvalues for matrix in correlations])


def _leading_exceedances(observed: np.ndarray, threshold: np.ndarray) -> int:
    # psych: which(!(observed > threshold))[1] - 1, the run of leading eigenvalues above chance
    below = np.nonzero(~(observed > threshold))[0]
    return int(below[0]) if below.size else len(observed)


def parallel_analysis(
    items: pd.DataFrame | np.ndarray,
    n_iter: int = 20,
    seed: int | None = 0,
    corr: str = "pearson",
    quantile: float = 0.95,
    fm: str = "minres",
    n_obs: int | None = None,
) -> ParallelResult:
    """Horn's (1965) parallel analysis, as ``psych::fa.parallel`` (``fa="both"``).

    The observed eigenvalues are those of the correlation matrix (components) and of the
    correlation matrix with the communalities of a one-factor solution (extraction ``fm``) on
    its diagonal (factors; psych's ``fa(r, 1, fm=fm)$values``). They are compared with the
    ``quantile`` (psych: ``quant = .95``) over ``n_iter`` replicates of the same eigenvalues of

    - simulated data: ``n x p`` independent standard normal variables (Pearson correlations);
    - resampled data (raw input only): each item's answers drawn with replacement,
      independently of the other items, which keeps the item distributions and breaks the
      correlations.

    ``n_factors`` (``n_components``) is the number of leading observed factor (component)
    eigenvalues larger than the simulated quantile, psych's ``nfact`` (``ncomp``); when all
    exceed it, the number of items. The simulations are drawn and correlated as one
    vectorized batch.

    Parameters
    ----------
    items : DataFrame or ndarray
        Item responses, or a correlation matrix with ``n_obs`` (then no resampling).
    n_iter : int
        Number of simulated (and resampled) data sets.
    seed : int or None
        Seed of the random generator; one seed, one result.
    corr : {"pearson", "polychoric"}
        Correlation type of the observed (and resampled) data.
    quantile : float
        Quantile of the simulated eigenvalues that an observed one must exceed.
    fm : {"minres", "ml", "pa"}
        Extraction for the factor eigenvalues.
    n_obs : int, optional
        Number of respondents behind a correlation matrix.

    Returns
    -------
    ParallelResult

    References
    ----------
    Horn, J. L. (1965). A rationale and test for the number of factors in factor analysis.
    *Psychometrika*, 30, 179-185.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from rctscale.psychometrics.dimensionality import parallel_analysis
    >>> rng = np.random.default_rng(2)
    >>> scores = rng.normal(size=(400, 2))
    >>> pattern = np.array([[.8, 0], [.7, 0], [.7, 0], [0, .8], [0, .7], [0, .7]])
    >>> items = pd.DataFrame(scores @ pattern.T + .6 * rng.normal(size=(400, 6)))
    >>> result = parallel_analysis(items, seed=1)
    >>> result.n_factors, result.n_components
    (2, 2)
    """
    if fm not in EXTRACTION_METHODS:
        raise AnalysisError(
            f"unknown extraction method '{fm}'; choose one of {', '.join(EXTRACTION_METHODS)}"
        )
    if not 0 < quantile < 1:
        raise AnalysisError(f"quantile must lie between 0 and 1, got {quantile}")
    if int(n_iter) != n_iter or n_iter < 1:
        raise AnalysisError(f"n_iter must be a positive whole number, got {n_iter!r}")
    given = correlation_input(items, corr=corr, n_obs=n_obs, min_items=3)
    if given.n_obs is None:
        raise AnalysisError(
            "parallel analysis of a correlation matrix needs the number of respondents: pass n_obs"
        )
    correlation = given.matrix.to_numpy()
    check_positive_definite(correlation)
    p = correlation.shape[0]
    n = given.n_obs
    rng = np.random.default_rng(seed)
    observed_components = np.linalg.eigvalsh(correlation)[::-1]
    observed_factors = _extract(correlation, 1, fm).factor_eigenvalues

    simulated = _batched_pairwise_pearson(rng.standard_normal((int(n_iter), n, p)))
    simulated_components = np.linalg.eigvalsh(simulated)[:, ::-1]
    simulated_factors = _factor_values(simulated, fm)

    columns: dict[str, np.ndarray] = {
        "observed_components": observed_components,
        "observed_factors": observed_factors,
        "simulated_components": np.quantile(simulated_components, quantile, axis=0),
        "simulated_factors": np.quantile(simulated_factors, quantile, axis=0),
        "simulated_components_mean": simulated_components.mean(axis=0),
        "simulated_factors_mean": simulated_factors.mean(axis=0),
    }
    if given.items is not None:
        resampled = _resampled_correlations(given.items, int(n_iter), rng, corr)
        resampled_components = np.linalg.eigvalsh(resampled)[:, ::-1]
        resampled_factors = _factor_values(resampled, fm)
        columns |= {
            "resampled_components": np.quantile(resampled_components, quantile, axis=0),
            "resampled_factors": np.quantile(resampled_factors, quantile, axis=0),
            "resampled_components_mean": resampled_components.mean(axis=0),
            "resampled_factors_mean": resampled_factors.mean(axis=0),
        }
    table = pd.DataFrame(columns, index=pd.RangeIndex(1, p + 1, name="number"))
    return ParallelResult(
        # psych's final decision uses the simulated normal data, also when it resampled
        n_factors=_leading_exceedances(observed_factors, columns["simulated_factors"]),
        n_components=_leading_exceedances(observed_components, columns["simulated_components"]),
        table=table,
        options={
            "n_iter": int(n_iter),
            "seed": seed,
            "corr": corr,
            "quantile": quantile,
            "fm": fm,
            "n_obs": n,
            "resampled": given.items is not None,
        },
    )


def _resampled_correlations(
    items: pd.DataFrame, n_iter: int, rng: np.random.Generator, corr: str
) -> np.ndarray:
    values = items.to_numpy(dtype=float)
    n, p = values.shape
    columns = np.arange(p)

    def draw(count: int) -> np.ndarray:
        rows = rng.integers(0, n, size=(count, n, p))
        return values[rows, columns]

    samples = draw(n_iter)
    if corr == "pearson":
        correlations = _batched_pairwise_pearson(samples)
    else:
        from rctscale.psychometrics.correlation import polychoric

        correlations = np.stack(
            [np.asarray(polychoric(pd.DataFrame(s, columns=items.columns)), dtype=float) for s in samples]
        )
    # a resample can make an item constant (sparse answers); psych draws again, and so do we
    for _attempt in range(_MAX_REDRAWS):
        bad = np.nonzero(~np.isfinite(correlations).all(axis=(1, 2)))[0]
        if bad.size == 0:
            return correlations
        redrawn = draw(bad.size)
        correlations[bad] = (
            _batched_pairwise_pearson(redrawn)
            if corr == "pearson"
            else np.stack(
                [np.asarray(polychoric(pd.DataFrame(s, columns=items.columns)), dtype=float) for s in redrawn]
            )
        )
    raise AnalysisError(
        f"resampling kept producing undefined correlations after {_MAX_REDRAWS} attempts: "
        "some items have too few distinct answers for parallel analysis"
    )


# --- MAP ---


def velicer_map(items: pd.DataFrame | np.ndarray, n_components: int = 8, corr: str = "pearson") -> MAPResult:
    """Velicer's (1976) minimum average partial (MAP) criterion, as ``psych::vss``'s ``map``.

    For ``m = 1, 2, ...`` the first ``m`` principal components ``C_m`` (eigenvectors scaled by
    the square roots of their eigenvalues) are partialled out of the correlation matrix,

    .. math:: R^*_m = D^{-1/2}(R - C_m C_m')D^{-1/2}, \\qquad
              D = \\operatorname{diag}(R - C_m C_m'),

    and the criterion is the average squared off-diagonal partial correlation
    ``sum_{i != j} (r^*_ij)^2 / (p(p-1))``. The number of factors is the ``m`` at the minimum.
    Like psych, ``m`` runs from 1 (not 0) to ``min(n_components, p - 1)``.

    Parameters
    ----------
    items : DataFrame or ndarray
        Item responses or a correlation matrix.
    n_components : int
        Largest number of components to partial out (psych's ``n = 8``).
    corr : {"pearson", "polychoric"}
        Correlation type for raw data.

    Returns
    -------
    MAPResult

    References
    ----------
    Velicer, W. F. (1976). Determining the number of components from the matrix of partial
    correlations. *Psychometrika*, 41, 321-327.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.dimensionality import velicer_map
    >>> block = np.full((3, 3), .5) + .5 * np.eye(3)
    >>> r = np.block([[block, np.full((3, 3), .1)], [np.full((3, 3), .1), block]])
    >>> velicer_map(r, n_components=4).n_factors
    2
    """
    given = correlation_input(items, corr=corr, min_items=3)
    correlation = given.matrix.to_numpy()
    p = correlation.shape[0]
    if int(n_components) != n_components or n_components < 1:
        raise AnalysisError(f"n_components must be a positive whole number, got {n_components!r}")
    steps = min(int(n_components), p - 1)
    values, vectors = np.linalg.eigh(correlation)
    values, vectors = values[::-1], vectors[:, ::-1]
    components = vectors * np.sqrt(np.maximum(values, 0.0))
    averages = np.full(steps, np.nan)
    for m in range(1, steps + 1):
        partialled = correlation - components[:, :m] @ components[:, :m].T
        scale = 1.0 / np.sqrt(np.diag(partialled))
        partial = partialled * np.outer(scale, scale)
        np.fill_diagonal(partial, 0.0)
        averages[m - 1] = np.sum(partial**2) / (p * (p - 1))
    series = pd.Series(averages, index=pd.RangeIndex(1, steps + 1, name="components"), name="map")
    best = int(np.nanargmin(averages)) + 1 if not math.isnan(np.nanmin(averages)) else 0
    return MAPResult(map=series, n_factors=best)
