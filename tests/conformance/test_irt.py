"""The graded response model against R's mirt on the reference Likert sample.

Reference (mirt 1.38, R 4.2.2): tests/reference/irt_reference.json, written by
make_reference_irt.R: ``mirt(x, 1, itemtype = "graded", TOL = 1e-7, SE = TRUE,
SE.type = "Oakes")`` on likert1500.csv, items c1-c6 and all 18 items (answers missing here and
there), and ``fscores(method = "EAP" / "MAP", full.scores.SE = TRUE)`` for the first 20 rows.

rctscale runs at its defaults (tol = 1e-5), as a user would. Both programs use the same
quadrature (61 equally spaced nodes on [-6, 6]), so what remains is where each EM stops.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rctscale.psychometrics.irt import graded_response_model

REFERENCE = Path(__file__).resolve().parents[1] / "reference"

# Slopes, thresholds and intercepts, absolute: rctscale's EM stops when no parameter moves by more
# than 1e-5 in a cycle, mirt's reference at 1e-7 (measured: at most 8e-6).
PARAMETER_TOLERANCE = 1e-4
# Marginal log-likelihood, AIC and BIC, absolute: flat at the maximum (measured: 1.3e-8).
LOGLIK_TOLERANCE = 1e-4
# Standard errors, relative: Louis's observed information here, Oakes's identity in mirt, both the
# exact observed information of the same likelihood (measured: 2e-6).
STANDARD_ERROR_RELATIVE_TOLERANCE = 1e-3
# EAP and MAP scores and their SEs, absolute, on the theta metric (measured: 6e-6).
SCORE_TOLERANCE = 1e-4

CASES = {"connection": [f"c{i}" for i in range(1, 7)], "all18": None}


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((REFERENCE / "irt_reference.json").read_text())


@pytest.fixture(scope="module")
def likert() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "likert1500.csv").iloc[:, :18]


@pytest.fixture(scope="module")
def fits(likert: pd.DataFrame) -> dict:
    return {case: graded_response_model(likert[columns] if columns else likert) for case, columns in CASES.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_parameters(case: str, reference: dict, fits: dict) -> None:
    ref, fit = reference[case], fits[case]
    assert fit.converged and ref["converged"]
    assert list(fit.parameters.index) == ref["items"]
    b_columns = [c for c in fit.parameters.columns if c.startswith("b")]
    d_columns = [c for c in fit.parameters.columns if c.startswith("d")]
    np.testing.assert_allclose(fit.parameters["a"], ref["a"], atol=PARAMETER_TOLERANCE)
    np.testing.assert_allclose(fit.parameters[b_columns], ref["b"], atol=PARAMETER_TOLERANCE)
    np.testing.assert_allclose(fit.parameters[d_columns], ref["d"], atol=PARAMETER_TOLERANCE)


@pytest.mark.parametrize("case", list(CASES))
def test_loglik_and_information_criteria(case: str, reference: dict, fits: dict) -> None:
    ref, fit = reference[case], fits[case]
    assert fit.n_parameters == ref["n_parameters"]
    assert fit.loglik == pytest.approx(ref["loglik"], abs=LOGLIK_TOLERANCE)
    assert fit.aic == pytest.approx(ref["aic"], abs=2 * LOGLIK_TOLERANCE)
    assert fit.bic == pytest.approx(ref["bic"], abs=2 * LOGLIK_TOLERANCE)


@pytest.mark.parametrize("case", list(CASES))
def test_standard_errors(case: str, reference: dict, fits: dict) -> None:
    ref, fit = reference[case], fits[case]
    d_columns = [c for c in fit.standard_errors.columns if c.startswith("d")]
    np.testing.assert_allclose(fit.standard_errors["a"], ref["se_a"], rtol=STANDARD_ERROR_RELATIVE_TOLERANCE)
    np.testing.assert_allclose(fit.standard_errors[d_columns], ref["se_d"], rtol=STANDARD_ERROR_RELATIVE_TOLERANCE)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("method", ["EAP", "MAP"])
def test_scores(case: str, method: str, reference: dict, fits: dict, likert: pd.DataFrame) -> None:
    ref, fit = reference[case], fits[case]
    rows = np.asarray(ref["eap_rows"]) - 1
    scores = fit.theta(likert[ref["items"]].iloc[rows], method=method)
    prefix = method.lower()
    np.testing.assert_allclose(scores["theta"], ref[f"{prefix}_theta"], atol=SCORE_TOLERANCE)
    np.testing.assert_allclose(scores["se"], ref[f"{prefix}_se"], atol=SCORE_TOLERANCE)
