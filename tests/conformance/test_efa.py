"""EFA and rotations against psych / GPArotation on the reference data in tests/reference/.

hs1939_reference.json and likert1500_reference.json come from make_reference.R;
efa_reference.json from make_reference_efa.R (psych 2.2.9, GPArotation 2022.10-2).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from factor_matching import match_factors

from conformance.reference_data import hs_items, likert_items, load_json
from rctscale.psychometrics import rotation as rotations
from rctscale.psychometrics.efa import efa

# Loadings, factor correlations, communalities, eigenvalues and variance tables: absolute, after
# matching factor order and sign (the brief's tolerance; measured agreement is about 1e-12).
LOADING_TOLERANCE = 0.01
# psych's chi-square (STATISTIC): relative (the brief's tolerance).
CHISQ_RELATIVE_TOLERANCE = 1e-3
# Other fit statistics (RMSEA and its interval, TLI, BIC, empirical chi-square, RMS): absolute.
# R finds the RMSEA bounds by uniroot with a tolerance of 1.2e-4 on the noncentrality, which
# moves them by about 1e-6; 1e-4 leaves room for that and nothing else.
FIT_TOLERANCE = 1e-4




def assert_loadings_match(
    ours: pd.DataFrame, expected, phi: pd.DataFrame | None = None, expected_phi=None
) -> None:
    matched, matched_phi = match_factors(
        ours.to_numpy(), np.asarray(expected), None if phi is None else phi.to_numpy()
    )
    np.testing.assert_allclose(matched, np.asarray(expected), atol=LOADING_TOLERANCE, rtol=0)
    if expected_phi is not None:
        np.testing.assert_allclose(matched_phi, np.asarray(expected_phi), atol=LOADING_TOLERANCE, rtol=0)


# --- the brief's reference values (make_reference.R) ---


def test_hs1939_minres_oblimin_3() -> None:
    reference = load_json("hs1939_reference.json")["efa_minres_oblimin_3"]
    result = efa(hs_items(), n_factors=3, method="minres", rotation="oblimin")
    assert list(result.loadings.index) == reference["items"]
    assert_loadings_match(result.loadings, reference["loadings"], result.phi, reference["phi"])


def test_hs1939_ml_varimax_3() -> None:
    reference = load_json("hs1939_reference.json")["efa_ml_varimax_3"]
    result = efa(hs_items(), n_factors=3, method="ml", rotation="varimax")
    assert_loadings_match(result.loadings, reference["loadings"])
    assert result.fit["chisq"] == pytest.approx(reference["chisq"], rel=CHISQ_RELATIVE_TOLERANCE)
    assert result.fit["dof"] == reference["dof"]
    np.testing.assert_allclose(result.phi.to_numpy(), np.eye(3))


def test_likert_minres_oblimin_3_pearson() -> None:
    reference = load_json("likert1500_reference.json")["efa_minres_oblimin_3_pearson"]
    result = efa(likert_items(), n_factors=3)
    assert list(result.loadings.index) == reference["items"]
    assert_loadings_match(result.loadings, reference["loadings"])


def test_likert_minres_oblimin_3_polychoric() -> None:
    """fa(polychoric(items)$rho, 3, n.obs = 1500): our polychoric correlations, then our EFA."""
    reference = load_json("likert1500_reference.json")["efa_minres_oblimin_3_polychoric"]
    result = efa(likert_items(), n_factors=3, corr="polychoric")
    assert list(result.loadings.index) == reference["items"]
    assert_loadings_match(result.loadings, reference["loadings"])


# --- every extraction x rotation (make_reference_efa.R) ---

HS_CASES = {
    # name in efa_reference.json: (method, rotation, n_factors)
    "minres_oblimin_3": ("minres", "oblimin", 3),
    "minres_varimax_3": ("minres", "varimax", 3),
    "minres_promax_3": ("minres", "promax", 3),
    "minres_quartimin_3": ("minres", "quartimin", 3),
    "minres_geominQ_3": ("minres", "geomin", 3),
    "minres_none_3": ("minres", "none", 3),
    "minres_oblimin_2": ("minres", "oblimin", 2),
    "minres_1": ("minres", "oblimin", 1),
    "ml_oblimin_3": ("ml", "oblimin", 3),
    "ml_varimax_3": ("ml", "varimax", 3),
    "ml_1": ("ml", "oblimin", 1),
    "pa_oblimin_3": ("pa", "oblimin", 3),
    "pa_varimax_3": ("pa", "varimax", 3),
    "pa_1": ("pa", "oblimin", 1),
}
LIKERT_CASES = {
    "minres_oblimin_3": ("minres", "oblimin", 3),
    "ml_promax_3": ("ml", "promax", 3),
    "pa_geominQ_3": ("pa", "geomin", 3),
}


def check_against_psych(result, reference: dict) -> None:
    """Loadings, phi, communalities, eigenvalues, variance table and every fit statistic."""
    if reference["phi"] is None:
        assert_loadings_match(result.loadings, reference["loadings"])
    else:
        assert_loadings_match(result.loadings, reference["loadings"], result.phi, reference["phi"])
    # psych's own order, signs and names, without matching
    names = reference["factor_names"]
    assert list(result.loadings.columns) == (names if isinstance(names, list) else [names])
    np.testing.assert_allclose(
        result.loadings.to_numpy(), np.asarray(reference["loadings"]), atol=LOADING_TOLERANCE, rtol=0
    )
    np.testing.assert_allclose(
        result.communalities.to_numpy(), reference["communality"], atol=LOADING_TOLERANCE, rtol=0
    )
    np.testing.assert_allclose(
        result.uniquenesses.to_numpy(), reference["uniquenesses"], atol=LOADING_TOLERANCE, rtol=0
    )
    np.testing.assert_allclose(
        result.eigenvalues["factor"].to_numpy(), reference["values"], atol=LOADING_TOLERANCE, rtol=0
    )
    np.testing.assert_allclose(
        result.eigenvalues["correlation"].to_numpy(), reference["e_values"], atol=LOADING_TOLERANCE, rtol=0
    )
    rows = (
        reference["variance_rows"]
        if isinstance(reference["variance_rows"], list)
        else [reference["variance_rows"]]
    )
    variance = np.asarray(reference["variance"], dtype=float).reshape(len(rows), -1)
    np.testing.assert_allclose(result.variance.loc[rows].to_numpy(), variance, atol=LOADING_TOLERANCE, rtol=0)
    for name, expected in reference["fit"].items():
        ours = result.fit[name]
        if expected is None:  # psych reports NA (e.g. no p value with 0 degrees of freedom)
            assert math.isnan(ours), name
        elif name in ("chisq", "null_chisq"):
            assert ours == pytest.approx(expected, rel=CHISQ_RELATIVE_TOLERANCE), name
        elif name in ("dof", "null_dof"):
            assert ours == expected, name
        else:
            assert ours == pytest.approx(expected, abs=FIT_TOLERANCE), name


@pytest.mark.parametrize("case", sorted(HS_CASES))
def test_hs1939_against_psych(case: str) -> None:
    method, rotation, n_factors = HS_CASES[case]
    result = efa(hs_items(), n_factors=n_factors, method=method, rotation=rotation)
    check_against_psych(result, load_json("efa_reference.json")["hs_efa"][case])


def test_hs1939_correlation_matrix_input_against_psych() -> None:
    """fa(cor(x), 3, n.obs = 301): matrix input, so unweighted empirical statistics."""
    result = efa(hs_items().corr(), n_factors=3, n_obs=301)
    check_against_psych(result, load_json("efa_reference.json")["hs_efa"]["matrix_minres_oblimin_3"])


@pytest.mark.parametrize("case", sorted(LIKERT_CASES))
def test_likert_with_missing_answers_against_psych(case: str) -> None:
    """Raw data with missing answers: pairwise correlations and np.obs-weighted statistics."""
    method, rotation, n_factors = LIKERT_CASES[case]
    result = efa(likert_items(), n_factors=n_factors, method=method, rotation=rotation)
    check_against_psych(result, load_json("efa_reference.json")["likert_efa"][case])


# --- the rotations alone, on psych's unrotated loadings ---

ROTATION_CASES = {
    "oblimin": lambda a: rotations.oblimin(a),
    "oblimin_gam05": lambda a: rotations.oblimin(a, gamma=0.5),
    "oblimin_normalized": lambda a: rotations.oblimin(a, normalize=True),
    "quartimin": lambda a: rotations.quartimin(a),
    "geominQ": lambda a: rotations.geomin(a),
    "geominT": lambda a: rotations.geomin(a, orthogonal=True),
    "Promax": lambda a: rotations.promax(a, normalize=False),
    "promax_kaiser": lambda a: rotations.promax(a),
}


@pytest.mark.parametrize("case", sorted(ROTATION_CASES))
def test_rotation_against_gparotation(case: str) -> None:
    reference = load_json("efa_reference.json")["rotations"]
    result = ROTATION_CASES[case](np.asarray(reference["unrotated"]))
    assert result.converged
    # GPArotation returns loadings in its own order and sign: compare them as they are
    np.testing.assert_allclose(
        result.loadings.to_numpy(), reference[case]["loadings"], atol=LOADING_TOLERANCE, rtol=0
    )
    np.testing.assert_allclose(result.phi.to_numpy(), reference[case]["phi"], atol=LOADING_TOLERANCE, rtol=0)


def test_varimax_against_stats_varimax() -> None:
    reference = load_json("efa_reference.json")["rotations"]
    result = rotations.varimax(np.asarray(reference["unrotated"]))
    np.testing.assert_allclose(
        result.loadings.to_numpy(), reference["varimax"]["loadings"], atol=LOADING_TOLERANCE, rtol=0
    )
    np.testing.assert_allclose(
        result.rotation.to_numpy(), reference["varimax"]["rotmat"], atol=LOADING_TOLERANCE, rtol=0
    )
