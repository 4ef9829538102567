"""KMO, Bartlett, parallel analysis and MAP against psych on the reference data (tests/reference/)."""

from __future__ import annotations

import numpy as np
import pytest

from conformance.reference_data import hs_items, likert_items, load_json
from rctscale.psychometrics.dimensionality import bartlett, eigenvalues, kmo, parallel_analysis, velicer_map

# KMO (overall and per item) and Bartlett's chi-square: absolute (the brief's tolerance).
KMO_TOLERANCE = 1e-4
BARTLETT_TOLERANCE = 1e-4
# Observed eigenvalues in parallel analysis are deterministic linear algebra on the same
# correlation matrix: compared "exactly", i.e. to floating-point rounding.
EIGENVALUE_TOLERANCE = 1e-8
# MAP averages are deterministic too (eigen-decomposition and partial correlations).
MAP_TOLERANCE = 1e-8




def test_kmo_hs1939() -> None:
    reference = load_json("hs1939_reference.json")["kmo"]
    result = kmo(hs_items())
    assert result.overall == pytest.approx(reference["overall"], abs=KMO_TOLERANCE)
    assert list(result.items.index) == list(reference["items"])
    np.testing.assert_allclose(
        result.items.to_numpy(), list(reference["items"].values()), atol=KMO_TOLERANCE, rtol=0
    )


def test_kmo_likert_with_missing_answers() -> None:
    reference = load_json("efa_reference.json")["dimensionality"]["likert_kmo"]
    result = kmo(likert_items())
    assert result.overall == pytest.approx(reference["overall"], abs=KMO_TOLERANCE)
    np.testing.assert_allclose(
        result.items.to_numpy(), list(reference["items"].values()), atol=KMO_TOLERANCE, rtol=0
    )


def test_bartlett_hs1939_from_correlation_matrix() -> None:
    """cortest.bartlett(cor(x), n = nrow(x))."""
    reference = load_json("hs1939_reference.json")["bartlett"]
    result = bartlett(hs_items().corr(), n_obs=len(hs_items()))
    assert result.chisq == pytest.approx(reference["chisq"], abs=BARTLETT_TOLERANCE)
    assert result.df == reference["df"]


def test_bartlett_hs1939_from_raw_data() -> None:
    reference = load_json("hs1939_reference.json")["bartlett"]
    result = bartlett(hs_items())
    assert result.chisq == pytest.approx(reference["chisq"], abs=BARTLETT_TOLERANCE)


def test_bartlett_likert_with_missing_answers() -> None:
    """cortest.bartlett(items): pairwise correlations, n = all rows."""
    reference = load_json("efa_reference.json")["dimensionality"]["likert_bartlett"]
    result = bartlett(likert_items())
    assert result.chisq == pytest.approx(reference["chisq"], abs=BARTLETT_TOLERANCE)
    assert result.df == reference["df"]
    assert result.pvalue == pytest.approx(reference["pvalue"], abs=BARTLETT_TOLERANCE)


@pytest.mark.parametrize("data_set", ["hs", "likert"])
def test_parallel_analysis(data_set: str) -> None:
    """Observed eigenvalues exactly; the simulated part is random in R, so only the decisions."""
    reference = load_json("efa_reference.json")["dimensionality"][f"{data_set}_parallel"]
    items = hs_items() if data_set == "hs" else likert_items()
    result = parallel_analysis(items, n_iter=20, seed=0)
    np.testing.assert_allclose(
        result.table["observed_components"].to_numpy(),
        reference["pc_values"],
        atol=EIGENVALUE_TOLERANCE,
        rtol=0,
    )
    np.testing.assert_allclose(
        result.table["observed_factors"].to_numpy(), reference["fa_values"], atol=EIGENVALUE_TOLERANCE, rtol=0
    )
    np.testing.assert_allclose(
        eigenvalues(items).to_numpy(), reference["pc_values"], atol=EIGENVALUE_TOLERANCE, rtol=0
    )
    assert result.n_factors == reference["nfact"]
    assert result.n_components == reference["ncomp"]


def test_parallel_analysis_brief_reference() -> None:
    reference = load_json("likert1500_reference.json")["parallel_20"]
    result = parallel_analysis(likert_items(), n_iter=20, seed=0)
    assert (result.n_factors, result.n_components) == (reference["nfact"], reference["ncomp"])


@pytest.mark.parametrize("data_set", ["hs", "likert"])
def test_velicer_map(data_set: str) -> None:
    reference = load_json("efa_reference.json")["dimensionality"][f"{data_set}_map"]
    items = hs_items() if data_set == "hs" else likert_items()
    result = velicer_map(items, n_components=8)
    np.testing.assert_allclose(result.map.to_numpy(), reference["map"], atol=MAP_TOLERANCE, rtol=0)
    assert result.n_factors == reference["n_factors"]
