"""Unit tests of efa and the rotations: errors, warnings, input forms, invariants, factor_analyzer."""

from __future__ import annotations

import doctest
import importlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factor_matching import match_factors

from rctscale.errors import AnalysisError
from rctscale.psychometrics.efa import efa
from rctscale.psychometrics.rotation import geomin, oblimin, promax, quartimin, rotate, varimax

# the package namespace re-exports the functions under the modules' names (pm.efa is the function)
efa_module = importlib.import_module("rctscale.psychometrics.efa")
rotation_module = importlib.import_module("rctscale.psychometrics.rotation")
REFERENCE = Path(__file__).resolve().parent / "reference"
HS_ITEMS = [f"x{i}" for i in range(1, 10)]
# factor_analyzer minimizes the same minres/ML criteria with its own optimizer: the solutions
# agree to about 1e-5; 1e-3 says "the same solution" without depending on optimizer details.
FACTOR_ANALYZER_TOLERANCE = 1e-3
# two routes to the same numbers in double precision
SAME_NUMBERS = 1e-8


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "hs1939.csv")[HS_ITEMS]


def two_factor_items(n: int = 400, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scores = rng.multivariate_normal([0, 0], [[1, 0.3], [0.3, 1]], size=n)
    pattern = np.array([[0.8, 0], [0.7, 0], [0.6, 0.1], [0, 0.8], [0.1, 0.7], [0, 0.6]])
    noise = rng.normal(size=(n, 6)) * np.sqrt(1 - (pattern**2).sum(axis=1))
    return pd.DataFrame(scores @ pattern.T + noise, columns=[f"i{j}" for j in range(1, 7)])


# --- errors ---


def test_too_many_factors_is_an_error(hs: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match=r"too many for 9 items.*at most 5"):
        efa(hs, n_factors=6)


def test_constant_item_is_an_error_naming_it(hs: pd.DataFrame) -> None:
    data = hs.assign(x4=3.0)
    with pytest.raises(AnalysisError, match="item 'x4' is constant"):
        efa(data, n_factors=2)


def test_fewer_respondents_than_items_is_an_error(hs: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="fewer respondents"):
        efa(hs.iloc[:8], n_factors=1)


def test_singular_matrix_is_an_error(hs: pd.DataFrame) -> None:
    data = hs.assign(x10=hs["x1"] + hs["x2"])
    with pytest.raises(AnalysisError, match="singular"):
        efa(data, n_factors=2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_number_of_factors_is_an_error(hs: pd.DataFrame, bad) -> None:
    with pytest.raises(AnalysisError, match="n_factors"):
        efa(hs, n_factors=bad)


def test_unknown_method_rotation_and_correlation_are_errors(hs: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="extraction method"):
        efa(hs, 2, method="alpha")
    with pytest.raises(AnalysisError, match="rotation"):
        efa(hs, 2, rotation="bentler")
    with pytest.raises(AnalysisError, match="correlation type"):
        efa(hs, 2, corr="spearman")


def test_non_numeric_item_is_an_error(hs: pd.DataFrame) -> None:
    data = hs.astype(object)
    data.loc[3, "x2"] = "seven"
    with pytest.raises(AnalysisError, match="item 'x2' is not numeric"):
        efa(data, 1)


# --- warnings ---


# one factor: lambda_a^2 = r_ab r_ac / r_bc = 1.28 > 1, an impossible communality for item a
HEYWOOD = pd.DataFrame([[1, 0.8, 0.8], [0.8, 1, 0.5], [0.8, 0.5, 1]], index=list("abc"), columns=list("abc"))


def test_heywood_case_warns() -> None:
    # ML stops a's uniqueness at its bound .005 (psych: communality .995)
    with pytest.warns(RuntimeWarning, match="Heywood case: a has a uniqueness at its lower bound"):
        result = efa(HEYWOOD, 1, n_obs=200, method="ml")
    assert result.communalities["a"] == pytest.approx(0.995, abs=1e-4)


def test_ultra_heywood_case_warns() -> None:
    # minres: communality 1.0509 for a, as psych::fa reports with its "ultra-Heywood" warning
    with pytest.warns(RuntimeWarning, match="ultra-Heywood case: the communality of a exceeds 1"):
        result = efa(HEYWOOD, 1, n_obs=200)
    assert result.communalities["a"] == pytest.approx(1.050909339, abs=1e-6)


def test_non_convergence_warns(hs: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(efa_module, "_LBFGSB_MAX_ITER", 1)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        result = efa(hs, 3)
    assert not result.converged


def test_clean_solution_does_not_warn(hs: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = efa(hs, 3)
    assert result.converged


# --- input forms ---


@pytest.mark.parametrize("method", ["minres", "ml", "pa"])
def test_correlation_matrix_input_equals_raw_input(hs: pd.DataFrame, method: str) -> None:
    from_raw = efa(hs, 3, method=method)
    from_matrix = efa(hs.corr(), 3, method=method, n_obs=len(hs))
    np.testing.assert_allclose(from_matrix.loadings, from_raw.loadings, atol=SAME_NUMBERS)
    np.testing.assert_allclose(from_matrix.phi, from_raw.phi, atol=SAME_NUMBERS)
    for name in ("chisq", "dof", "pvalue", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "tli", "bic"):
        assert from_matrix.fit[name] == pytest.approx(from_raw.fit[name], abs=SAME_NUMBERS), name


def test_numpy_array_input_is_labelled(hs: pd.DataFrame) -> None:
    result = efa(hs.to_numpy(), 2)
    assert list(result.loadings.index) == [f"item{j}" for j in range(1, 10)]


def test_correlation_matrix_without_n_obs_has_no_chisq(hs: pd.DataFrame) -> None:
    result = efa(hs.corr(), 3)
    assert np.isnan(result.fit["chisq"]) and np.isnan(result.fit["rmsea"])
    assert result.fit["objective"] > 0


def test_pairwise_missing_answers_are_used(hs: pd.DataFrame) -> None:
    data = hs.copy()
    data.loc[data.index[:40], "x3"] = np.nan
    result = efa(data, 3)
    np.testing.assert_allclose(result.correlation.to_numpy(), data.corr().to_numpy(), atol=SAME_NUMBERS)
    assert result.n_obs == len(data)


# --- invariants of the result ---


@pytest.mark.parametrize("rotation", ["oblimin", "quartimin", "geomin", "promax", "varimax", "none"])
def test_rotation_keeps_the_reproduced_correlations(hs: pd.DataFrame, rotation: str) -> None:
    result = efa(hs, 3, rotation=rotation)
    loadings, phi = result.loadings.to_numpy(), result.phi.to_numpy()
    unrotated = result.unrotated.to_numpy()
    np.testing.assert_allclose(loadings @ phi @ loadings.T, unrotated @ unrotated.T, atol=1e-6)
    np.testing.assert_allclose(unrotated @ result.rotation_matrix.to_numpy(), loadings, atol=1e-10)
    np.testing.assert_allclose(np.diag(phi), 1.0, atol=1e-10)
    np.testing.assert_allclose(result.communalities + result.uniquenesses, 1.0)
    assert (loadings.sum(axis=0) > 0).all()
    explained = result.variance.loc["SS loadings"].to_numpy()
    assert (np.diff(explained) <= 1e-12).all()


def test_result_converts_to_json(hs: pd.DataFrame) -> None:
    result = efa(hs, 2)
    text = json.dumps(result.to_dict())
    assert '"loadings"' in text and '"rmsea"' in text
    assert "loadings:" in str(result)


# --- factor_analyzer cross-check ---


@pytest.mark.parametrize("method", ["minres", "ml"])
@pytest.mark.parametrize("rotation", [None, "varimax", "oblimin", "promax"])
def test_agrees_with_factor_analyzer(hs: pd.DataFrame, method: str, rotation: str | None) -> None:
    factor_analyzer = pytest.importorskip("factor_analyzer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # factor_analyzer's own deprecation noise
        theirs = (
            factor_analyzer.FactorAnalyzer(n_factors=3, rotation=rotation, method=method).fit(hs).loadings_
        )
    ours = efa(hs, 3, method=method, rotation=rotation or "none").loadings.to_numpy()
    matched, _ = match_factors(theirs, ours)
    np.testing.assert_allclose(matched, ours, atol=FACTOR_ANALYZER_TOLERANCE)


# --- the rotation functions ---


@pytest.fixture(scope="module")
def unrotated(hs: pd.DataFrame) -> np.ndarray:
    return efa(hs, 3, rotation="none").loadings.to_numpy()


@pytest.mark.parametrize(
    "rotation", [varimax, promax, oblimin, quartimin, geomin, lambda a: geomin(a, orthogonal=True)]
)
def test_rotation_reproduces_the_loadings(unrotated: np.ndarray, rotation) -> None:
    result = rotation(unrotated)
    loadings, phi = result.loadings.to_numpy(), result.phi.to_numpy()
    np.testing.assert_allclose(unrotated @ result.rotation.to_numpy(), loadings, atol=1e-10)
    np.testing.assert_allclose(loadings @ phi @ loadings.T, unrotated @ unrotated.T, atol=1e-8)
    if result.orthogonal:
        np.testing.assert_allclose(phi, np.eye(3))


def test_oblimin_lowers_its_criterion(unrotated: np.ndarray) -> None:
    before = rotation_module._oblimin_criterion(0.0)(unrotated)[0]
    after = oblimin(unrotated)
    assert after.converged and after.criterion < before


def test_single_factor_is_not_rotated() -> None:
    loadings = np.array([[0.7], [0.6], [0.5]])
    result = oblimin(loadings)
    np.testing.assert_allclose(result.loadings.to_numpy(), loadings)
    assert result.iterations == 0


def test_dataframe_labels_are_kept(unrotated: np.ndarray) -> None:
    frame = pd.DataFrame(unrotated, index=HS_ITEMS, columns=["A", "B", "C"])
    result = rotate(frame, "oblimin")
    assert list(result.loadings.index) == HS_ITEMS and list(result.phi.columns) == ["A", "B", "C"]


def test_unknown_rotation_is_an_error(unrotated: np.ndarray) -> None:
    with pytest.raises(AnalysisError, match="unknown rotation"):
        rotate(unrotated, "bentlerQ")


def test_docstring_examples_run() -> None:
    for module in (efa_module, rotation_module):
        failures, _ = doctest.testmod(module, raise_on_error=False)
        assert failures == 0, module.__name__
