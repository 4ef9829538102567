"""Correlation matrices for item responses: Pearson and polychoric, pairwise-complete.

Both follow R's ``psych`` package so that results can be compared with it:

* :func:`pearson` is ``cor(x, use = "pairwise")``: every pair of items uses the respondents
  who answered both, for the means and the standard deviations as well as the cross-products.
* :func:`polychoric` is ``psych::polychoric(x)``: thresholds from each item's margins, then a
  maximum-likelihood correlation per pair of items, smoothed to positive definiteness when
  needed (``psych::cor.smooth``).

The polychoric estimator is vectorized over all item pairs at once: the count tables come
from one matrix product of category indicators, the bivariate normal probabilities from a
vectorized Drezner–Wesolowsky / Genz algorithm, and the correlations from a safeguarded
Newton iteration on the exact score (the derivative of the bivariate normal CDF with respect
to the correlation is the bivariate normal density, Plackett 1954).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from rctscale.errors import AnalysisError
from rctscale.psychometrics._checks import as_item_frame

__all__ = [
    "bivariate_normal_cdf",
    "pairwise_covariance",
    "pearson",
    "polychoric",
    "smooth_correlation",
]

# Gauss–Legendre rule used by the bivariate normal CDF. Genz (2004) uses 6, 12 or 20 points
# depending on |rho|; 20 everywhere costs little when vectorized and is at least as accurate.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(20)

# The correlation is searched inside (-_RHO_BOUND, _RHO_BOUND): psych's optimize() works on the
# open interval (-1, 1); at |rho| = 1 the bivariate normal is degenerate.
_RHO_BOUND = 1.0 - 1e-7
# Newton stops when a step moves rho by less than this; psych's optimize() stops at about
# 1.2e-4 (.Machine$double.eps^0.25), so our estimates are the more precise of the two.
_RHO_TOLERANCE = 1e-10
_MAX_NEWTON_STEPS = 100


# --------------------------------------------------------------------------------------------
# Pearson (pairwise complete)
# --------------------------------------------------------------------------------------------


def _pairwise_moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise-complete covariances of the columns of ``values`` (NaN = missing).

    Returns ``(covariance, variance_within_pair, n_pair)`` where ``variance_within_pair[i, j]``
    is the variance of item i over the respondents who answered both i and j, as R's
    ``cov(x, use = "pairwise")`` / ``cor(x, use = "pairwise")`` compute them.
    """
    present = ~np.isnan(values)
    mask = present.astype(float)
    # Centre on the available-case means first: the one-pass sums below then stay accurate.
    centred = np.where(present, values - np.nanmean(values, axis=0), 0.0)
    n_pair = mask.T @ mask
    sum_in_pair = centred.T @ mask  # [i, j]: sum of item i over rows where i and j are answered
    sumsq_in_pair = (centred * centred).T @ mask
    cross = centred.T @ centred
    with np.errstate(divide="ignore", invalid="ignore"):
        covariance = (cross - sum_in_pair * sum_in_pair.T / n_pair) / (n_pair - 1.0)
        variance_within_pair = (sumsq_in_pair - sum_in_pair**2 / n_pair) / (n_pair - 1.0)
    return covariance, variance_within_pair, n_pair


def _check_pairs(n_pair: np.ndarray, names: list[str], minimum: int = 2) -> None:
    too_few = np.argwhere(np.triu(n_pair < minimum, 1))
    if len(too_few):
        i, j = too_few[0]
        raise AnalysisError(
            f"items '{names[i]}' and '{names[j]}' have {int(n_pair[i, j])} respondent(s) in common; "
            f"a correlation needs at least {minimum}: drop one of them or collect more complete data"
        )


def pairwise_covariance(items: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    """Covariance matrix of the items, each pair on the respondents who answered both.

    This is R's ``cov(x, use = "pairwise")``, the covariance ``psych::alpha`` works from.

    Examples
    --------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.correlation import pairwise_covariance
    >>> df = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 1, 4, None]})
    >>> pairwise_covariance(df).round(3).to_numpy().tolist()
    [[1.667, 1.0], [1.0, 2.333]]
    """
    frame = as_item_frame(items)
    covariance, _, n_pair = _pairwise_moments(frame.to_numpy(dtype=float))
    _check_pairs(n_pair, list(frame.columns))
    return pd.DataFrame(covariance, index=frame.columns, columns=frame.columns)


def pearson(items: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    """Pearson correlations of the items, pairwise complete (psych's default).

    For items *i* and *j* only the respondents who answered both are used, for the means,
    the standard deviations and the cross-products alike:

    .. math:: r_{ij} = \\frac{\\sum (x_i - \\bar x_i)(x_j - \\bar x_j)}
                            {\\sqrt{\\sum (x_i - \\bar x_i)^2 \\sum (x_j - \\bar x_j)^2}}

    This equals R's ``cor(x, use = "pairwise")``. The matrix need not be positive definite
    when many answers are missing.

    Examples
    --------
    >>> import pandas as pd
    >>> from rctscale.psychometrics import correlation
    >>> df = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 1, 4, 3, 5], "c": [5, 4, 3, None, 1]})
    >>> correlation.pearson(df).round(3).to_numpy().tolist()  # b-c uses the 4 rows where c is known
    [[1.0, 0.8, -1.0], [0.8, 1.0, -0.855], [-1.0, -0.855, 1.0]]
    """
    frame = as_item_frame(items)
    names = list(frame.columns)
    covariance, variance_within_pair, n_pair = _pairwise_moments(frame.to_numpy(dtype=float))
    _check_pairs(n_pair, names)
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = covariance / np.sqrt(variance_within_pair * variance_within_pair.T)
    np.fill_diagonal(correlation, 1.0)
    undefined = np.argwhere(~np.isfinite(correlation))
    if len(undefined):
        i, j = undefined[0]
        raise AnalysisError(
            f"the correlation of items '{names[i]}' and '{names[j]}' is undefined: one of them is "
            "constant among the respondents who answered both; drop one of them"
        )
    return pd.DataFrame(correlation, index=names, columns=names)


# --------------------------------------------------------------------------------------------
# Bivariate normal distribution
# --------------------------------------------------------------------------------------------


def _bvn_upper_finite(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """P(X > h, Y > k) for standard bivariate normals with correlation r; all finite, |r| < 1.

    Genz's BVNU (Genz 2004, "Numerical computation of rectangular bivariate and trivariate
    normal and t probabilities", Statistics and Computing 14, 251-260), itself a refinement
    of Drezner & Wesolowsky (1990), written for arrays.
    """
    result = np.empty(h.shape)
    two_pi = 2.0 * np.pi
    moderate = np.abs(r) < 0.925

    # |r| < 0.925: Gauss–Legendre on Plackett's integral with the substitution r = sin(theta).
    if moderate.any():
        hm, km, rm = h[moderate], k[moderate], r[moderate]
        hk = hm * km
        hs = (hm * hm + km * km) / 2.0
        asr = np.arcsin(rm)
        sn = np.sin(asr[:, None] * (1.0 - _GL_NODES[None, :]) / 2.0)
        terms = _GL_WEIGHTS * np.exp((sn * hk[:, None] - hs[:, None]) / (1.0 - sn * sn))
        result[moderate] = terms.sum(axis=1) * asr / (4.0 * np.pi) + ndtr(-hm) * ndtr(-km)

    # |r| >= 0.925: Drezner–Wesolowsky's expansion around |r| = 1 plus a correction integral.
    strong = ~moderate
    if strong.any():
        hs_, ks_, rs_ = h[strong], k[strong], r[strong]
        negative = rs_ < 0
        ks_ = np.where(negative, -ks_, ks_)
        hk = hs_ * ks_
        a_sq = (1.0 - rs_) * (1.0 + rs_)
        a = np.sqrt(a_sq)
        b_sq = (hs_ - ks_) ** 2
        c = (4.0 - hk) / 8.0
        d = (12.0 - hk) / 16.0
        exponent = -(b_sq / a_sq + hk) / 2.0
        bvn = np.where(
            exponent > -100.0,
            a * np.exp(exponent) * (1.0 - c * (b_sq - a_sq) * (1.0 - d * b_sq / 5.0) / 3.0
                                    + c * d * a_sq * a_sq / 5.0),
            0.0,
        )
        b = np.sqrt(b_sq)
        tail = (np.exp(-hk / 2.0) * np.sqrt(two_pi) * ndtr(-b / a) * b
                * (1.0 - c * b_sq * (1.0 - d * b_sq / 5.0) / 3.0))
        bvn = bvn - np.where(hk > -100.0, tail, 0.0)
        half_a = a / 2.0
        xs = (half_a[:, None] * (1.0 + _GL_NODES[None, :])) ** 2
        rs = np.sqrt(1.0 - xs)
        exponent = -(b_sq[:, None] / xs + hk[:, None]) / 2.0
        sp = 1.0 + c[:, None] * xs * (1.0 + d[:, None] * xs)
        ep = np.exp(-hk[:, None] * xs / (2.0 * (1.0 + rs) ** 2)) / rs
        terms = np.where(exponent > -100.0, _GL_WEIGHTS * np.exp(exponent) * (ep - sp), 0.0)
        bvn = -(bvn + half_a * terms.sum(axis=1)) / two_pi
        between = np.where(hs_ < 0.0, ndtr(ks_) - ndtr(hs_), ndtr(-hs_) - ndtr(-ks_))
        bvn = np.where(
            ~negative,
            bvn + ndtr(-np.maximum(hs_, ks_)),
            np.where(ks_ > hs_, between - bvn, -bvn),
        )
        result[strong] = bvn
    return np.clip(result, 0.0, 1.0)


def bivariate_normal_cdf(h: np.ndarray | float, k: np.ndarray | float, rho: np.ndarray | float) -> np.ndarray:
    """P(X < h, Y < k) for a standard bivariate normal with correlation ``rho`` (|rho| < 1).

    Vectorized over broadcast arrays; infinite limits are allowed. Accurate to about 1e-15
    (Genz 2004's algorithm with a 20-point Gauss–Legendre rule).

    Examples
    --------
    >>> from rctscale.psychometrics.correlation import bivariate_normal_cdf
    >>> round(float(bivariate_normal_cdf(0.0, 0.0, 0.5)), 6)  # 1/4 + arcsin(.5)/(2 pi)
    0.333333
    """
    h_arr, k_arr, r_arr = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (h, k, rho)))
    out = np.zeros(h_arr.shape)
    h_pos_inf, k_pos_inf = np.isposinf(h_arr), np.isposinf(k_arr)
    either_neg_inf = np.isneginf(h_arr) | np.isneginf(k_arr)
    out[h_pos_inf & k_pos_inf] = 1.0
    only_h_inf = h_pos_inf & ~k_pos_inf & ~either_neg_inf
    only_k_inf = k_pos_inf & ~h_pos_inf & ~either_neg_inf
    out[only_h_inf] = ndtr(k_arr[only_h_inf])
    out[only_k_inf] = ndtr(h_arr[only_k_inf])
    finite = np.isfinite(h_arr) & np.isfinite(k_arr)
    # P(X < h, Y < k) = P(-X > -h, -Y > -k), and (-X, -Y) has the same correlation.
    out[finite] = _bvn_upper_finite(-h_arr[finite], -k_arr[finite], r_arr[finite])
    return out


def _bvn_density_and_slope(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bivariate normal density at (h, k) and its derivative with respect to rho (finite h, k)."""
    one_minus = 1.0 - rho * rho
    quadratic = h * h - 2.0 * rho * h * k + k * k
    density = np.exp(-quadratic / (2.0 * one_minus)) / (2.0 * np.pi * np.sqrt(one_minus))
    slope = density * ((rho + h * k) / one_minus - rho * quadratic / one_minus**2)
    return density, slope


# --------------------------------------------------------------------------------------------
# Polychoric
# --------------------------------------------------------------------------------------------


def _cells(grid: np.ndarray) -> np.ndarray:
    """Cell masses from values of a CDF on the grid of cut points (last two axes)."""
    return grid[:, 1:, 1:] - grid[:, :-1, 1:] - grid[:, 1:, :-1] + grid[:, :-1, :-1]


class _PairLikelihood:
    """Log-likelihood of rho for many 2-way tables at once, with its first two derivatives.

    ``row_cuts`` and ``col_cuts`` are (pairs, K-1) thresholds (±inf allowed, non-decreasing),
    ``proportions`` the (pairs, K, K) observed cell proportions.
    """

    def __init__(self, row_cuts: np.ndarray, col_cuts: np.ndarray, proportions: np.ndarray):
        n_pairs = row_cuts.shape[0]
        edge = np.full((n_pairs, 1), np.inf)
        self.row_edges = np.concatenate([-edge, row_cuts, edge], axis=1)  # (pairs, K+1)
        self.col_edges = np.concatenate([-edge, col_cuts, edge], axis=1)
        self.proportions = proportions
        h = np.broadcast_to(self.row_edges[:, :, None], self.row_edges.shape + (self.col_edges.shape[1],))
        k = np.broadcast_to(self.col_edges[:, None, :], h.shape)
        self.finite = np.isfinite(h) & np.isfinite(k)
        self.h_finite, self.k_finite = h[self.finite], k[self.finite]
        self.pair_of_finite = np.broadcast_to(np.arange(n_pairs)[:, None, None], h.shape)[self.finite]
        # The CDF at grid points with an infinite limit does not depend on rho.
        self.fixed_cdf = bivariate_normal_cdf(
            np.where(self.finite, 0.0, h), np.where(self.finite, 0.0, k), 0.0
        )
        self.fixed_cdf[self.finite] = 0.0

    def subset(self, index: np.ndarray) -> _PairLikelihood:
        clone = object.__new__(_PairLikelihood)
        clone.row_edges, clone.col_edges = self.row_edges[index], self.col_edges[index]
        clone.proportions, clone.finite = self.proportions[index], self.finite[index]
        clone.fixed_cdf = self.fixed_cdf[index]
        keep = np.isin(self.pair_of_finite, index)
        remap = np.full(len(self.row_edges), -1)
        remap[index] = np.arange(len(index))
        clone.h_finite, clone.k_finite = self.h_finite[keep], self.k_finite[keep]
        clone.pair_of_finite = remap[self.pair_of_finite[keep]]
        return clone

    def _grids(self, rho: np.ndarray, derivatives: bool):
        r = rho[self.pair_of_finite]
        cdf = self.fixed_cdf.copy()
        cdf[self.finite] = bivariate_normal_cdf(self.h_finite, self.k_finite, r)
        if not derivatives:
            return cdf, None, None
        first, second = np.zeros(cdf.shape), np.zeros(cdf.shape)
        first[self.finite], second[self.finite] = _bvn_density_and_slope(self.h_finite, self.k_finite, r)
        return cdf, first, second

    def log_likelihood(self, rho: np.ndarray) -> np.ndarray:
        cell, _, _ = self._grids(rho, derivatives=False)
        mass = _cells(cell)
        # As psych's polyF: cells of zero (or numerically negative) probability are left out.
        usable = (self.proportions > 0) & (mass > 0)
        return np.where(usable, self.proportions * np.log(np.where(usable, mass, 1.0)), 0.0).sum(axis=(1, 2))

    def score_and_curvature(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cdf, first, second = self._grids(rho, derivatives=True)
        mass, d_mass, d2_mass = _cells(cdf), _cells(first), _cells(second)
        usable = (self.proportions > 0) & (mass > 0)
        safe_mass = np.where(usable, mass, 1.0)
        ratio = np.where(usable, d_mass / safe_mass, 0.0)
        weight = np.where(usable, self.proportions, 0.0)
        score = (weight * ratio).sum(axis=(1, 2))
        curvature = (weight * (np.where(usable, d2_mass / safe_mass, 0.0) - ratio * ratio)).sum(axis=(1, 2))
        return score, curvature


def _maximize_rho(likelihood: _PairLikelihood, start: np.ndarray) -> np.ndarray:
    """Maximize the pair likelihoods over rho in (-1, 1): Newton on the score, kept in a bracket.

    Each pair keeps an interval known to contain the maximum (the score is positive below it
    and negative above); a Newton step that leaves the interval, or that is taken where the
    likelihood is not concave, is replaced by bisection, so every pair converges.
    """
    rho = np.clip(np.nan_to_num(start), -0.9, 0.9)
    lower = np.full(rho.shape, -_RHO_BOUND)
    upper = np.full(rho.shape, _RHO_BOUND)
    active = np.arange(len(rho))
    current = likelihood
    for _ in range(_MAX_NEWTON_STEPS):
        if active.size == 0:
            break
        score, curvature = current.score_and_curvature(rho[active])
        going_up = score > 0
        lower[active] = np.where(going_up, rho[active], lower[active])
        upper[active] = np.where(going_up, upper[active], rho[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = rho[active] - score / curvature
        # The bracket is closed: near the maximum the score is rounding noise, the bracket has
        # just closed on rho from one side and Newton proposes rho itself, which must be
        # accepted (bisecting there would walk away from the answer).
        inside = (curvature < 0) & (newton >= lower[active]) & (newton <= upper[active])
        proposal = np.where(inside, newton, 0.5 * (lower[active] + upper[active]))
        # A score of exactly 0 is the maximum itself (and Newton's step may then be 0/0).
        at_maximum = score == 0
        proposal = np.where(at_maximum, rho[active], proposal)
        step = np.abs(proposal - rho[active])
        rho[active] = proposal
        done = (step < _RHO_TOLERANCE) | (upper[active] - lower[active] < _RHO_TOLERANCE) | at_maximum
        if done.any():
            active = active[~done]
            current = likelihood.subset(active)
    # Not reached in practice (a few Newton steps suffice); should Newton ever cycle, plain
    # bisection on the sign of the score finishes the job, at one bit per round.
    while active.size:
        midpoint = 0.5 * (lower[active] + upper[active])
        score, _ = current.score_and_curvature(midpoint)
        lower[active] = np.where(score > 0, midpoint, lower[active])
        upper[active] = np.where(score > 0, upper[active], midpoint)
        rho[active] = 0.5 * (lower[active] + upper[active])
        done = (upper[active] - lower[active] < _RHO_TOLERANCE) | (score == 0)
        rho[active] = np.where(score == 0, midpoint, rho[active])
        if done.any():
            active = active[~done]
            current = likelihood.subset(active)
    return rho


def _thresholds_from_cumulative(cumulative: np.ndarray) -> np.ndarray:
    """qnorm of cumulative proportions; rounding above 1 is clamped (as psych >= 2.4.6 does)."""
    return ndtri(np.clip(cumulative, 0.0, 1.0))


def _start_from_tables(tables: np.ndarray) -> np.ndarray:
    """Pearson correlation of the category codes in each table: a cheap starting value."""
    codes = np.arange(tables.shape[1], dtype=float)
    total = tables.sum(axis=(1, 2))
    row_share = tables.sum(axis=2) / total[:, None]
    col_share = tables.sum(axis=1) / total[:, None]
    mean_r, mean_c = row_share @ codes, col_share @ codes
    var_r = row_share @ codes**2 - mean_r**2
    var_c = col_share @ codes**2 - mean_c**2
    cross = np.einsum("pij,i,j->p", tables, codes, codes) / total - mean_r * mean_c
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(cross / np.sqrt(var_r * var_c))


def smooth_correlation(matrix: pd.DataFrame | np.ndarray, eig_tol: float = 1e-12) -> tuple[np.ndarray, bool]:
    """Make a correlation matrix positive definite the way ``psych::cor.smooth`` does.

    When the smallest eigenvalue is below machine epsilon, eigenvalues below ``eig_tol`` are
    set to ``100 * eig_tol``, all eigenvalues are rescaled to sum to the number of items, the
    matrix is rebuilt and rescaled to a unit diagonal. Returns ``(matrix, smoothed)``.
    """
    values = np.asarray(matrix, dtype=float)
    eigenvalues, eigenvectors = np.linalg.eigh(values)
    if eigenvalues.min() >= np.finfo(float).eps:
        return values.copy(), False
    eigenvalues = np.where(eigenvalues < eig_tol, 100.0 * eig_tol, eigenvalues)
    eigenvalues *= len(values) / eigenvalues.sum()
    rebuilt = (eigenvectors * eigenvalues) @ eigenvectors.T
    scale = np.sqrt(np.diag(rebuilt))
    rebuilt = rebuilt / np.outer(scale, scale)
    rebuilt = (rebuilt + rebuilt.T) / 2.0
    np.fill_diagonal(rebuilt, 1.0)
    return rebuilt, True


def _ordinal_codes(frame: pd.DataFrame, max_categories: int) -> tuple[np.ndarray, int, float]:
    values = frame.to_numpy(dtype=float)
    present = ~np.isnan(values)
    fractional = present & (values != np.round(values))
    if fractional.any():
        row, col = np.argwhere(fractional)[0]
        raise AnalysisError(
            f"item '{frame.columns[col]}' holds a non-integer answer "
            f"({values[row, col]:g} in row {row + 1}); "
            "polychoric correlations need ordered categories coded as integers: use pearson() instead"
        )
    lowest, highest = np.nanmin(values), np.nanmax(values)
    n_categories = int(highest - lowest) + 1
    if n_categories > max_categories:
        raise AnalysisError(
            f"the items span {n_categories} response values ({lowest:g} to {highest:g}), more than "
            f"max_categories={max_categories}; polychoric correlations are meant for ordinal items with "
            "few categories: use pearson(), or raise max_categories if the items really are ordinal"
        )
    codes = np.where(present, values - lowest, -1).astype(np.int64)
    return codes, n_categories, float(lowest)


def polychoric(
    items: pd.DataFrame | np.ndarray,
    correct: float = 0.5,
    smooth: bool = True,
    global_thresholds: bool = True,
    max_categories: int = 8,
) -> pd.DataFrame:
    """Polychoric correlations of ordinal items, as ``psych::polychoric``.

    Each item is taken as a coarsened standard normal variable. The two-step estimator
    (Olsson 1979) first finds each item's thresholds from its own margin,

    .. math:: \\tau_{c} = \\Phi^{-1}\\big(P(X \\le c)\\big),

    and then, for every pair of items, the correlation :math:`\\rho` maximizing the likelihood
    of the pair's contingency table (respondents who answered both),

    .. math:: \\ell(\\rho) = \\sum_{a,b} n_{ab} \\log \\pi_{ab}(\\rho), \\qquad
              \\pi_{ab} = \\Phi_2(\\tau_a, \\tau_b; \\rho) - \\Phi_2(\\tau_{a-1}, \\tau_b; \\rho)
                         - \\Phi_2(\\tau_a, \\tau_{b-1}; \\rho) + \\Phi_2(\\tau_{a-1}, \\tau_{b-1}; \\rho).

    Like psych, the thresholds are *global* (each item's own margin over everyone who
    answered it) when all items reach the same highest category; otherwise psych switches
    to per-pair thresholds from the pair's table, and so does this function (with a
    warning). Only on that per-pair path are empty cells given ``correct`` respondents (a
    continuity correction; psych's ``correct = .5``) and empty rows/columns dropped — psych
    applies no correction on the global path, and neither does this function.

    When the matrix is not positive definite and ``smooth`` is true it is smoothed as
    ``psych::cor.smooth`` does, with a warning.

    Parameters
    ----------
    items : DataFrame or 2-D array
        Integer-coded ordinal answers, one column per item; missing answers as NaN.
    correct : float
        Respondents added to each empty cell on the per-pair path (0 for none).
    smooth : bool
        Smooth a non-positive-definite result to the nearest-in-spirit positive definite one.
    global_thresholds : bool
        psych's ``global``: thresholds from each item's margin rather than from each pair.
    max_categories : int
        More response values than this raise an error (psych's ``max.cat``).

    Returns
    -------
    DataFrame
        Items x items correlations; ``.attrs["thresholds"]`` is a DataFrame items x cut points
        (``t1``, ``t2``, ...) of the global thresholds, ``.attrs["n_obs"]`` the number of rows.

    References
    ----------
    Olsson, U. (1979). Maximum likelihood estimation of the polychoric correlation
    coefficient. *Psychometrika*, 44(4), 443-460.
    Revelle, W. psych: Procedures for Psychological, Psychometric, and Personality Research
    (``polychoric``, ``cor.smooth``).
    Genz, A. (2004). Numerical computation of rectangular bivariate and trivariate normal and
    t probabilities. *Statistics and Computing*, 14, 251-260.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from rctscale.psychometrics import correlation
    >>> rng = np.random.default_rng(1)
    >>> latent = rng.multivariate_normal([0, 0], [[1, .6], [.6, 1]], size=2000)
    >>> answers = pd.DataFrame(np.digitize(latent, [-1, 0, 1]) + 1, columns=["q1", "q2"])
    >>> rho = correlation.polychoric(answers)
    >>> round(float(rho.loc["q1", "q2"]), 2)
    0.59
    >>> rho.attrs["thresholds"].columns.tolist()
    ['t1', 't2', 't3']
    """
    if correct < 0:
        raise AnalysisError(f"correct must be 0 or more (respondents added to empty cells), got {correct}")
    frame = as_item_frame(items)
    names = list(frame.columns)
    codes, n_cat, _ = _ordinal_codes(frame, max_categories)
    n_rows, n_items = codes.shape

    # Margins and global thresholds (psych: tabulate per item over its available answers).
    counts = np.stack([np.bincount(codes[codes[:, j] >= 0, j], minlength=n_cat) for j in range(n_items)])
    cumulative = np.cumsum(counts, axis=1)[:, :-1] / counts.sum(axis=1, keepdims=True)
    thresholds = _thresholds_from_cumulative(cumulative)  # (items, K-1)

    highest_used = np.array([np.flatnonzero(row).max() for row in counts])
    if global_thresholds and highest_used.min() != highest_used.max():
        warnings.warn(
            "the items do not all use the same highest response category, so thresholds are estimated "
            "separately for each pair of items from that pair's table (psych's global = FALSE); results "
            "can differ slightly from item to item pair",
            stacklevel=2,
        )
        global_thresholds = False

    # All 2-way tables at once: category indicators, one matrix product (missing = no indicator).
    indicators = np.zeros((n_rows, n_items * n_cat), dtype=np.float32)
    answered = codes >= 0
    rows, cols = np.nonzero(answered)
    indicators[rows, cols * n_cat + codes[rows, cols]] = 1.0
    # float32 counts are exact up to 2**24 respondents; the product then runs twice as fast.
    all_tables = (indicators.T @ indicators).astype(np.float64).reshape(n_items, n_cat, n_items, n_cat)
    first, second = np.triu_indices(n_items, 1)
    tables = all_tables[first, :, second, :]  # (pairs, K, K): rows = first item
    totals = tables.sum(axis=(1, 2))
    if (totals == 0).any():
        pair = int(np.flatnonzero(totals == 0)[0])
        raise AnalysisError(
            f"items '{names[first[pair]]}' and '{names[second[pair]]}' have no respondent in common; "
            "their correlation cannot be estimated: drop one of them"
        )
    proportions = tables / totals[:, None, None]

    if global_thresholds:
        row_cuts, col_cuts = thresholds[first], thresholds[second]
    else:
        row_cuts, col_cuts, proportions = _pairwise_thresholds(
            proportions, totals, correct, names, first, second
        )

    likelihood = _PairLikelihood(row_cuts, col_cuts, proportions)
    rho = _maximize_rho(likelihood, _start_from_tables(tables))

    matrix = np.eye(n_items)
    matrix[first, second] = rho
    matrix[second, first] = rho
    if smooth:
        matrix, smoothed = smooth_correlation(matrix)
        if smoothed:
            warnings.warn(
                "the polychoric correlation matrix was not positive definite (pairwise estimates need not "
                "fit together), so it was smoothed as psych::cor.smooth does: eigenvalues below 1e-12 were "
                "raised to 1e-10 and the matrix rescaled to a unit diagonal. The correlations changed "
                "slightly; the matrix is still nearly singular, so factor analyses of it are fragile: "
                "look for items that are nearly copies of each other or for sparse categories",
                stacklevel=2,
            )
    result = pd.DataFrame(matrix, index=names, columns=names)
    result.attrs["thresholds"] = pd.DataFrame(
        thresholds, index=names, columns=[f"t{c + 1}" for c in range(n_cat - 1)]
    )
    result.attrs["n_obs"] = n_rows
    return result


def _pairwise_thresholds(
    proportions: np.ndarray,
    totals: np.ndarray,
    correct: float,
    names: list[str],
    first: np.ndarray,
    second: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """psych's polyc with global = FALSE: per-pair thresholds and the continuity correction.

    Rows and columns without answers are dropped; here they are kept as zero-width
    categories (equal neighbouring thresholds, no count), which gives the same likelihood.
    Empty cells of the remaining table get ``correct / total``; the thresholds are then taken
    from the margins of the corrected table, as psych does.
    """
    rows_used = proportions.sum(axis=2) > 0
    cols_used = proportions.sum(axis=1) > 0
    degenerate = (rows_used.sum(axis=1) < 2) | (cols_used.sum(axis=1) < 2)
    if degenerate.any():
        pair = int(np.flatnonzero(degenerate)[0])
        raise AnalysisError(
            f"items '{names[first[pair]]}' and '{names[second[pair]]}': among the respondents who answered "
            "both, one item is constant, so their polychoric correlation is undefined"
        )
    inside = rows_used[:, :, None] & cols_used[:, None, :]
    empty = inside & (proportions == 0)
    if correct > 0 and empty.any():
        proportions = np.where(empty, correct / totals[:, None, None], proportions)
        # psych's message counts the pairs (its "cells"); we give both numbers.
        warnings.warn(
            f"{int(empty.sum())} empty cell(s) in {int(empty.any(axis=(1, 2)).sum())} item-pair "
            "table(s) were "
            f"given {correct:g} respondent(s) each (psych's continuity correction) so that the likelihood "
            "stays finite; sparse categories make polychoric correlations unstable: consider merging rare "
            "categories, or pass correct=0 to leave empty cells empty",
            stacklevel=3,
        )

    def cuts(margins: np.ndarray, used: np.ndarray) -> np.ndarray:
        cumulative = np.cumsum(margins, axis=1)[:, :-1]
        values = _thresholds_from_cumulative(cumulative)
        # No threshold above the last used category: psych's table stops there.
        last_used = used.shape[1] - 1 - np.argmax(used[:, ::-1], axis=1)
        position = np.arange(values.shape[1])[None, :]
        return np.where(position >= last_used[:, None], np.inf, values)

    row_cuts = cuts(proportions.sum(axis=2), rows_used)
    col_cuts = cuts(proportions.sum(axis=1), cols_used)
    return row_cuts, col_cuts, proportions


def polyserial(continuous: pd.DataFrame | pd.Series, ordinal: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """Polyserial correlations between continuous variables and ordinal items, as ``psych::polyserial``.

    The ad hoc estimator of Olsson, Drasgow & Dorans (1982): the pairwise Pearson correlation
    of ``x`` with the item scores, rescaled by the item's standard deviation over the sum of
    normal densities at its thresholds,

    .. math:: \\hat\\rho_{xy} = r_{xy} \\sqrt{(n-1)/n} \\; s_y / \\sum_k \\phi(\\tau_k),

    with thresholds :math:`\\tau_k = \\Phi^{-1}` of the item's cumulative answer shares (over the
    categories from the lowest to the highest answer seen in any item), clipped to [-1, 1].

    Returns a DataFrame with one row per ordinal item and one column per continuous variable.

    References
    ----------
    Olsson, U., Drasgow, F., & Dorans, N. J. (1982). The polyserial correlation coefficient.
    *Psychometrika, 47*(3), 337-347.

    Examples
    --------
    >>> import pandas as pd
    >>> from rctscale.psychometrics import correlation
    >>> x = pd.Series([1.2, 2.3, 2.9, 4.1, 5.0, 3.3], name="score")
    >>> y = pd.DataFrame({"item": [1, 2, 2, 3, 3, 2]})
    >>> round(float(correlation.polyserial(x, y).iloc[0, 0]), 3)
    1.0
    """
    x = as_item_frame(continuous.to_frame() if isinstance(continuous, pd.Series) else continuous, min_items=1)
    y = as_item_frame(ordinal.to_frame() if isinstance(ordinal, pd.Series) else ordinal, min_items=1)
    if len(x) != len(y):
        raise AnalysisError(f"the continuous and ordinal data have {len(x)} and {len(y)} rows; they must be "
                            "the same respondents")
    values = y.to_numpy(dtype=float)
    answered = values[~np.isnan(values)]
    if not np.all(answered == np.round(answered)):
        raise AnalysisError("ordinal items must hold whole-number categories")
    categories = np.arange(answered.min(), answered.max() + 1)
    n_cases = len(y)
    density_sums = np.empty(y.shape[1])
    for j in range(y.shape[1]):
        column = values[:, j][~np.isnan(values[:, j])]
        shares = np.array([(column == c).sum() for c in categories], dtype=float) / column.size
        cumulative = np.cumsum(shares)[:-1]
        # a cumulative share of 0 or 1 (an unused end category) gives a threshold at -+infinity,
        # whose density is 0, as in psych
        thresholds = ndtri(np.clip(cumulative, 0.0, 1.0))
        density_sums[j] = np.where(np.isfinite(thresholds), np.exp(-0.5 * thresholds**2), 0.0).sum() / np.sqrt(
            2 * np.pi)
    both = pd.concat([x.add_prefix("x:"), y.add_prefix("y:")], axis=1)
    correlations = pearson(both).to_numpy()[x.shape[1]:, : x.shape[1]]  # (ordinal, continuous)
    sd_y = y.std(ddof=1).to_numpy()
    result = correlations * np.sqrt((n_cases - 1) / n_cases) * (sd_y / density_sums)[:, None]
    return pd.DataFrame(np.clip(result, -1.0, 1.0), index=y.columns, columns=x.columns)
