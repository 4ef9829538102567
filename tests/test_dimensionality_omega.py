"""Unit tests of the dimensionality statistics and omega: seeds, input forms, errors, invariants."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rctscale.errors import AnalysisError
from rctscale.psychometrics.dimensionality import (
    _batched_pairwise_pearson,
    bartlett,
    eigenvalues,
    kmo,
    parallel_analysis,
    velicer_map,
)
from rctscale.psychometrics.omega import omega

# the package namespace re-exports the functions under the modules' names (pm.omega is the function)
dimensionality_module = importlib.import_module("rctscale.psychometrics.dimensionality")
omega_module = importlib.import_module("rctscale.psychometrics.omega")
REFERENCE = Path(__file__).resolve().parent / "reference"
HS_ITEMS = [f"x{i}" for i in range(1, 10)]
# two routes to the same numbers in double precision
SAME_NUMBERS = 1e-10


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "hs1939.csv")[HS_ITEMS]


# --- parallel analysis ---


def test_parallel_analysis_is_reproducible_with_a_seed(hs: pd.DataFrame) -> None:
    first = parallel_analysis(hs, n_iter=10, seed=42)
    second = parallel_analysis(hs, n_iter=10, seed=42)
    pd.testing.assert_frame_equal(first.table, second.table)
    other = parallel_analysis(hs, n_iter=10, seed=43)
    assert not np.allclose(first.table["simulated_components"], other.table["simulated_components"])


def test_parallel_analysis_of_a_correlation_matrix_only_simulates(hs: pd.DataFrame) -> None:
    result = parallel_analysis(hs.corr(), n_obs=len(hs), n_iter=10)
    assert "resampled_components" not in result.table.columns
    assert result.options["resampled"] is False
    assert (result.n_factors, result.n_components) == (3, 3)


def test_parallel_analysis_needs_n_obs_for_a_matrix(hs: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="n_obs"):
        parallel_analysis(hs.corr())


@pytest.mark.parametrize("options", [{"quantile": 1.5}, {"n_iter": 0}, {"fm": "alpha"}])
def test_parallel_analysis_rejects_bad_options(hs: pd.DataFrame, options: dict) -> None:
    with pytest.raises(AnalysisError):
        parallel_analysis(hs, **options)


def test_simulated_eigenvalues_behave_like_noise(hs: pd.DataFrame) -> None:
    table = parallel_analysis(hs, n_iter=30, seed=1).table
    # eigenvalues of a correlation matrix sum to the number of items
    assert table["simulated_components_mean"].sum() == pytest.approx(len(HS_ITEMS))
    # with n = 301 the largest noise eigenvalue is modest, the observed first is not
    assert 1.0 < table["simulated_components"].iloc[0] < 1.6 < table["observed_components"].iloc[0]


def test_batched_pairwise_correlations_match_pandas() -> None:
    rng = np.random.default_rng(0)
    samples = rng.integers(1, 6, size=(4, 200, 5)).astype(float)
    samples[rng.random(samples.shape) < 0.1] = np.nan
    batched = _batched_pairwise_pearson(samples)
    for sample, correlation in zip(samples, batched, strict=True):
        np.testing.assert_allclose(correlation, pd.DataFrame(sample).corr().to_numpy(), atol=SAME_NUMBERS)


# --- KMO, Bartlett, eigenvalues, MAP ---


def test_kmo_and_bartlett_accept_a_correlation_matrix(hs: pd.DataFrame) -> None:
    assert kmo(hs.corr()).overall == pytest.approx(kmo(hs).overall, abs=SAME_NUMBERS)
    assert bartlett(hs.corr(), n_obs=len(hs)).chisq == pytest.approx(bartlett(hs).chisq, abs=1e-8)


def test_bartlett_of_a_matrix_needs_n_obs(hs: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="n_obs"):
        bartlett(hs.corr())


def test_singular_matrix_is_an_error_for_kmo_and_bartlett(hs: pd.DataFrame) -> None:
    data = hs.assign(x10=hs["x1"] - hs["x2"])
    with pytest.raises(AnalysisError, match="singular"):
        kmo(data)
    with pytest.raises(AnalysisError, match="singular"):
        bartlett(data)


def test_eigenvalues_sum_to_the_number_of_items(hs: pd.DataFrame) -> None:
    values = eigenvalues(hs)
    assert values.sum() == pytest.approx(9.0)
    assert values.is_monotonic_decreasing and values.index[0] == 1


def test_map_stops_one_short_of_the_number_of_items() -> None:
    correlation = np.array([[1, 0.5, 0.4], [0.5, 1, 0.3], [0.4, 0.3, 1]])
    assert len(velicer_map(correlation, n_components=8).map) == 2


# --- omega ---


def test_omega_bootstrap_is_reproducible_and_brackets_the_estimate(hs: pd.DataFrame) -> None:
    first = omega(hs, n_factors=3, n_boot=20, seed=7)
    second = omega(hs, n_factors=3, n_boot=20, seed=7)
    pd.testing.assert_frame_equal(first.ci, second.ci)
    for name, estimate in [
        ("omega_h", first.omega_h),
        ("omega_total", first.omega_total),
        ("alpha", first.alpha),
    ]:
        assert first.ci.loc[name, "lower"] < estimate < first.ci.loc[name, "upper"], name


def test_omega_bootstrap_from_a_correlation_matrix(hs: pd.DataFrame) -> None:
    result = omega(hs.corr(), n_factors=3, n_obs=len(hs), n_boot=10, seed=1)
    assert result.ci.loc["omega_total", "lower"] < result.omega_total < result.ci.loc["omega_total", "upper"]


def test_omega_needs_an_oblique_rotation(hs: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="oblique"):
        omega(hs, rotation="varimax")


def test_omega_with_too_many_factors_is_an_error(hs: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="too many"):
        omega(hs, n_factors=6)


def test_omega_orders_its_coefficients(hs: pd.DataFrame) -> None:
    result = omega(hs, n_factors=3)
    assert 0 < result.omega_h < result.omega_total < 1
    assert result.omega_limit == pytest.approx(result.omega_h / result.omega_total)
    np.testing.assert_allclose(result.schmid["h2"] + result.schmid["u2"], 1.0)
    # the Schmid-Leiman loadings reproduce the communalities of the oblique solution
    sl = result.schmid[["g", "F1*", "F2*", "F3*"]].to_numpy()
    # (exactly so when the one-factor fit of the 3 x 3 phi is exact; minres stops within ~1e-6)
    np.testing.assert_allclose((sl**2).sum(axis=1), result.schmid["h2"], atol=1e-5)


def test_reversed_item_is_flipped(hs: pd.DataFrame) -> None:
    reversed_items = hs.assign(x2=-hs["x2"])
    assert omega(reversed_items, 3).omega_total == pytest.approx(omega(hs, 3).omega_total, abs=1e-8)


def test_docstring_examples_run() -> None:
    for module in (dimensionality_module, omega_module):
        failures, _ = doctest.testmod(module, raise_on_error=False)
        assert failures == 0, module.__name__
