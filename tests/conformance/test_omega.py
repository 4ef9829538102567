"""Omega (Schmid-Leiman) against psych::omega on the reference data (tests/reference/)."""

from __future__ import annotations

import numpy as np
import pytest

from conformance.reference_data import hs_items, likert_items, load_json
from rctscale.psychometrics.omega import omega

# omega_h, omega_total, alpha, omega_limit: absolute (the brief's tolerance).
OMEGA_TOLERANCE = 1e-3
# Schmid-Leiman loadings and the group-omega table: the same absolute tolerance as omega,
# since the omegas are sums of these loadings.
SCHMID_TOLERANCE = 1e-3




def test_hs1939_omega_3() -> None:
    reference = load_json("hs1939_reference.json")["omega_3"]
    result = omega(hs_items(), n_factors=3)
    assert result.omega_h == pytest.approx(reference["omega_h"], abs=OMEGA_TOLERANCE)
    assert result.omega_total == pytest.approx(reference["omega_total"], abs=OMEGA_TOLERANCE)
    assert result.alpha == pytest.approx(reference["alpha"], abs=OMEGA_TOLERANCE)


def test_likert_one_factor_omega_total() -> None:
    """omega(items[, 1:6], nfactors = 1)$omega.tot on the connection items (with missing answers)."""
    reference = load_json("likert1500_reference.json")["omega_total_1f_conn"]
    result = omega(likert_items().iloc[:, :6], n_factors=1)
    assert result.omega_total == pytest.approx(reference, abs=OMEGA_TOLERANCE)


CASES = {
    # name in efa_reference.json: (data set, n_factors, fm)
    "hs_3": ("hs", 3, "minres"),
    "hs_2": ("hs", 2, "minres"),
    "hs_3_ml": ("hs", 3, "ml"),
    "likert_3": ("likert", 3, "minres"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_omega_against_psych(case: str) -> None:
    data_set, n_factors, fm = CASES[case]
    reference = load_json("efa_reference.json")["omega"][case]
    items = hs_items() if data_set == "hs" else likert_items()
    result = omega(items, n_factors=n_factors, fm=fm)
    assert result.omega_h == pytest.approx(reference["omega_h"], abs=OMEGA_TOLERANCE)
    assert result.omega_total == pytest.approx(reference["omega_total"], abs=OMEGA_TOLERANCE)
    assert result.alpha == pytest.approx(reference["alpha"], abs=OMEGA_TOLERANCE)
    assert result.omega_limit == pytest.approx(reference["omega_lim"], abs=OMEGA_TOLERANCE)
    np.testing.assert_allclose(result.schmid.to_numpy(), reference["sl"], atol=SCHMID_TOLERANCE, rtol=0)
    np.testing.assert_allclose(
        result.g_loadings.to_numpy(), reference["gloading"], atol=SCHMID_TOLERANCE, rtol=0
    )
    np.testing.assert_allclose(result.phi.to_numpy(), reference["phi"], atol=SCHMID_TOLERANCE, rtol=0)
    np.testing.assert_allclose(result.oblique.to_numpy(), reference["oblique"], atol=SCHMID_TOLERANCE, rtol=0)
    group = np.asarray(reference["group"], dtype=float)
    np.testing.assert_allclose(result.group.to_numpy(), group, atol=SCHMID_TOLERANCE, rtol=0)
