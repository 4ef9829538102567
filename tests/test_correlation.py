"""Unit tests of rctscale.psychometrics.correlation: the bivariate normal CDF, the polychoric
estimator's optimizer and edge cases, and input errors. Comparisons with psych are in
tests/conformance/test_polychoric.py."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats
from scipy.special import ndtr

from rctscale.errors import AnalysisError
from rctscale.psychometrics.correlation import (
    _PairLikelihood,
    bivariate_normal_cdf,
    pairwise_covariance,
    pearson,
    polychoric,
    smooth_correlation,
)

# Genz's algorithm with 20 Gauss–Legendre points is accurate to about 1e-15.
BVN_TOLERANCE = 1e-13
# Two optimizers on the same likelihood, both converged to ~1e-9 in rho.
OPTIMIZER_TOLERANCE = 1e-6
# Sampling error of a polychoric correlation from 20,000 respondents is about 0.01.
RECOVERY_TOLERANCE = 0.03


def plackett(h: float, k: float, rho: float) -> float:
    """Phi2(h, k; rho) = Phi(h) Phi(k) + integral over r from 0 to rho of the bivariate density."""
    def density(r: float) -> float:
        return np.exp(-(h * h - 2 * r * h * k + k * k) / (2 * (1 - r * r))) / (2 * np.pi * np.sqrt(1 - r * r))
    value, _ = integrate.quad(density, 0.0, rho, epsabs=1e-15, epsrel=1e-13, limit=200)
    return float(ndtr(h) * ndtr(k) + value)


@pytest.mark.parametrize("rho", [-0.9999, -0.95, -0.93, -0.5, -0.1, 0.0, 0.2, 0.6, 0.92, 0.93, 0.99, 0.9999])
def test_bivariate_normal_cdf_against_plackett_integral(rho: float) -> None:
    points = [(-2.5, 1.0), (0.0, 0.0), (1.3, -0.4), (0.7, 0.7), (-1.1, -1.9), (3.0, 2.5)]
    ours = bivariate_normal_cdf([h for h, _ in points], [k for _, k in points], rho)
    expected = [plackett(h, k, rho) for h, k in points]
    assert np.abs(ours - expected).max() < BVN_TOLERANCE


def test_bivariate_normal_cdf_with_infinite_limits() -> None:
    values = bivariate_normal_cdf([np.inf, 0.3, -np.inf, np.inf, 0.3],
                                  [0.3, np.inf, 1.0, np.inf, -np.inf], 0.4)
    assert values.tolist() == pytest.approx([ndtr(0.3), ndtr(0.3), 0.0, 1.0, 0.0], abs=1e-15)


def simulate_ordinal(rho: float, n: int, cuts: list[float], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    latent = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    return pd.DataFrame(np.digitize(latent, cuts) + 1, columns=["a", "b"])


@pytest.mark.parametrize("rho", [-0.7, 0.0, 0.5, 0.95])
def test_polychoric_recovers_the_latent_correlation(rho: float) -> None:
    data = simulate_ordinal(rho, 20000, [-1.2, -0.3, 0.5, 1.4], seed=1)
    assert polychoric(data).loc["a", "b"] == pytest.approx(rho, abs=RECOVERY_TOLERANCE)


def test_polychoric_is_the_maximum_likelihood_estimate() -> None:
    """An independent bounded Brent search on a likelihood built from scipy's bivariate normal."""
    data = simulate_ordinal(0.45, 800, [-0.8, 0.2, 1.0], seed=4)
    result = polychoric(data)
    tau = result.attrs["thresholds"].to_numpy()
    table = pd.crosstab(data["a"], data["b"]).to_numpy()
    rows = np.concatenate([[-np.inf], tau[0], [np.inf]])
    cols = np.concatenate([[-np.inf], tau[1], [np.inf]])

    def negative_log_likelihood(rho: float) -> float:
        dist = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]])
        cdf = np.array([[dist.cdf([min(h, 10), min(k, 10)]) if np.isfinite(h) and np.isfinite(k) else
                         (0.0 if (h == -np.inf or k == -np.inf) else ndtr(min(h, k)))
                         for k in cols] for h in rows])
        cells = cdf[1:, 1:] - cdf[:-1, 1:] - cdf[1:, :-1] + cdf[:-1, :-1]
        return -float((table * np.log(cells)).sum())

    best = optimize.minimize_scalar(negative_log_likelihood, bounds=(-0.99, 0.99), method="bounded",
                                    options={"xatol": 1e-9})
    assert result.loc["a", "b"] == pytest.approx(best.x, abs=OPTIMIZER_TOLERANCE)


def table_to_answers(table: list[list[int]]) -> pd.DataFrame:
    """Respondents whose answers to items a and b reproduce a contingency table."""
    rows = [(r + 1, c + 1) for r, line in enumerate(table)
            for c, count in enumerate(line) for _ in range(count)]
    return pd.DataFrame(rows, columns=["a", "b"])


def brent_on_our_likelihood(data: pd.DataFrame) -> tuple[float, _PairLikelihood, np.ndarray]:
    """A bounded Brent search on the same likelihood (the stand-alone check of the Newton solver).

    Returns Brent's rho, the likelihood object and the pair's count table.
    """
    tau = polychoric(data).attrs["thresholds"].to_numpy()
    categories = range(1, tau.shape[1] + 2)
    table = pd.crosstab(data["a"], data["b"]).reindex(index=categories, columns=categories, fill_value=0)
    counts = table.to_numpy()
    likelihood = _PairLikelihood(tau[:1], tau[1:], (counts / counts.sum())[None].astype(float))
    best = optimize.minimize_scalar(lambda r: -likelihood.log_likelihood(np.array([r]))[0],
                                    bounds=(-0.9999, 0.9999), method="bounded", options={"xatol": 1e-10})
    return float(best.x), likelihood, counts


def test_polychoric_keeps_an_exact_maximum() -> None:
    """Regression: on this 2 x 2 table Newton lands where the score is exactly 0.0; the solver once
    replaced that point by the midpoint of its bracket and returned 0.425 instead of 0.5355."""
    data = table_to_answers([[64, 112], [50, 474]])
    brent, _, _ = brent_on_our_likelihood(data)
    assert polychoric(data).loc["a", "b"] == pytest.approx(brent, abs=OPTIMIZER_TOLERANCE)
    assert polychoric(data).loc["a", "b"] == pytest.approx(0.535457, abs=1e-5)  # psych 2.2.9: 0.535473


def test_polychoric_agrees_with_brent_on_many_tables() -> None:
    rng = np.random.default_rng(2024)
    interior = 0
    for trial in range(80):
        n_cat = int(rng.integers(2, 7))
        cuts = np.sort(rng.normal(scale=0.8, size=n_cat - 1))
        rho = float(rng.choice([rng.uniform(-0.95, 0.95), rng.uniform(0.9, 0.99)]))
        data = simulate_ordinal(rho, int(rng.integers(200, 1500)), list(cuts), seed=trial)
        if data.nunique().min() < 2 or data["a"].max() != data["b"].max():
            continue  # the per-pair path is covered elsewhere
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = float(polychoric(data).loc["a", "b"])
        brent, likelihood, counts = brent_on_our_likelihood(data)
        # never a lower likelihood than Brent finds (to rounding of a sum of ~1)
        values = [likelihood.log_likelihood(np.array([r]))[0] for r in (ours, brent)]
        assert values[0] >= values[1] - 1e-12, trial
        if (counts > 0).all():
            # an interior maximum: the same rho. (With an empty cell the supremum may lie at
            # rho -> +-1, where the likelihood is flat to machine precision and rho is arbitrary.)
            assert ours == pytest.approx(brent, abs=OPTIMIZER_TOLERANCE), trial
            interior += 1
    assert interior >= 25  # the comparison of rho did happen (35 of the 80 tables)


def test_polychoric_thresholds_use_each_items_own_answers() -> None:
    data = simulate_ordinal(0.3, 500, [-0.5, 0.5], seed=2).astype(float)
    data.loc[:99, "b"] = np.nan
    result = polychoric(data)
    expected_b = stats.norm.ppf(np.cumsum(data["b"].value_counts(normalize=True).sort_index())[:-1])
    assert result.attrs["thresholds"].loc["b"].to_numpy() == pytest.approx(expected_b, abs=1e-12)
    assert result.attrs["n_obs"] == 500


def test_polychoric_matrix_shape_and_symmetry() -> None:
    rng = np.random.default_rng(9)
    latent = rng.normal(size=(400, 1)) + rng.normal(size=(400, 5))
    data = pd.DataFrame(np.digitize(latent, [-1, 0, 1]) + 1, columns=list("vwxyz"))
    result = polychoric(data)
    values = result.to_numpy()
    assert list(result.index) == list(result.columns) == list("vwxyz")
    assert np.allclose(values, values.T) and np.allclose(np.diag(values), 1.0)
    assert result.attrs["thresholds"].shape == (5, 3)


def test_polychoric_of_identical_items_goes_to_the_bound_without_error() -> None:
    data = simulate_ordinal(0.5, 300, [-0.5, 0.5], seed=3)
    data["c"] = data["a"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the matrix is singular and gets smoothed
        result = polychoric(data)
    assert result.loc["a", "c"] > 0.999


def test_polychoric_rejects_non_integer_answers() -> None:
    data = pd.DataFrame({"a": [1, 2, 3, 2.5], "b": [1, 2, 3, 3]})
    with pytest.raises(AnalysisError, match="item 'a' holds a non-integer answer"):
        polychoric(data)


def test_polychoric_rejects_too_many_categories() -> None:
    data = pd.DataFrame({"a": np.arange(1, 13) % 10, "b": np.arange(12) % 3})
    with pytest.raises(AnalysisError, match="max_categories"):
        polychoric(data)


def test_polychoric_needs_respondents_in_common() -> None:
    data = pd.DataFrame({"a": [1, 2, 1, None, None, None], "b": [None, None, None, 1, 2, 2],
                         "c": [1, 2, 2, 1, 2, 1]})
    with pytest.raises(AnalysisError, match="'a' and 'b' have no respondent in common"):
        polychoric(data)


def test_pearson_is_pairwise_complete() -> None:
    rng = np.random.default_rng(5)
    data = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    data = data.mask(rng.random(data.shape) < 0.2)
    ours = pearson(data)
    for a, b in itertools.combinations(data.columns, 2):
        both = data[[a, b]].dropna()
        assert ours.loc[a, b] == pytest.approx(np.corrcoef(both[a], both[b])[0, 1], abs=1e-12)
        assert ours.loc[b, a] == ours.loc[a, b]
    assert np.diag(ours).tolist() == [1.0] * 4
    assert pairwise_covariance(data).to_numpy() == pytest.approx(data.cov().to_numpy(), abs=1e-12)


def test_pearson_names_a_pair_without_enough_respondents() -> None:
    data = pd.DataFrame({"a": [1, 2, 3, None], "b": [None, None, 1, 2], "c": [1, 2, 1, 2]})
    with pytest.raises(AnalysisError, match="'a' and 'b' have 1 respondent"):
        pearson(data)


def test_smooth_correlation_leaves_positive_definite_matrices_alone() -> None:
    matrix = np.array([[1.0, 0.5], [0.5, 1.0]])
    smoothed, changed = smooth_correlation(matrix)
    assert not changed and np.array_equal(smoothed, matrix)
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    smoothed, changed = smooth_correlation(bad)
    assert changed and np.allclose(np.diag(smoothed), 1.0) and np.linalg.eigvalsh(smoothed).min() > 0


def test_bisection_fallback_reaches_the_same_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    from rctscale.psychometrics import correlation

    rng = np.random.default_rng(8)
    latent = rng.normal(size=(600, 1)) + rng.normal(size=(600, 4))
    data = pd.DataFrame(np.digitize(latent, [-1, 0, 1]) + 1, columns=list("abcd"))
    newton = polychoric(data).to_numpy()
    monkeypatch.setattr(correlation, "_MAX_NEWTON_STEPS", 0)
    assert polychoric(data).to_numpy() == pytest.approx(newton, abs=OPTIMIZER_TOLERANCE)
