"""Measurement invariance (ML) against lavaan: hs1939 across schools (make_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rctscale.psychometrics.sem import invariance

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
CHISQ_RELATIVE_TOLERANCE = 1e-4  # 0.01 % relative
FIT_TOLERANCE = 1e-3  # fit indices, absolute
FIT_NAMES = {"rmsea.ci.lower": "rmsea_ci_lower", "rmsea.ci.upper": "rmsea_ci_upper", "ntotal": "n"}


@pytest.fixture(scope="module")
def hs_invariance():
    reference = json.loads((REFERENCE / "hs1939_reference.json").read_text())
    data = pd.read_csv(REFERENCE / "hs1939.csv")
    return invariance(reference["model"], data, group="school"), reference["invariance_school_ml"]


@pytest.mark.parametrize("step", ["configural", "metric", "scalar"])
def test_step_matches_lavaan(hs_invariance, step):
    result, reference = hs_invariance
    row = result.table.loc[step]
    assert row["converged"]
    for lavaan_name, expected in reference[step].items():
        name = FIT_NAMES.get(lavaan_name, lavaan_name)
        if name in ("chisq", "aic", "bic"):
            assert row[name] == pytest.approx(expected, rel=CHISQ_RELATIVE_TOLERANCE), (step, name)
        elif name in ("df", "n"):
            assert row[name] == expected, (step, name)
        else:
            assert row[name] == pytest.approx(expected, abs=FIT_TOLERANCE), (step, name)


def test_differences_between_steps(hs_invariance):
    result, reference = hs_invariance
    table = result.table
    assert list(table.index) == ["configural", "metric", "scalar", "strict"]
    expected_diff = reference["metric"]["chisq"] - reference["configural"]["chisq"]
    assert table.loc["metric", "chisq_diff"] == pytest.approx(expected_diff, rel=CHISQ_RELATIVE_TOLERANCE)
    assert table.loc["metric", "df_diff"] == reference["metric"]["df"] - reference["configural"]["df"]
    assert table.loc["scalar", "delta_cfi"] == pytest.approx(
        reference["scalar"]["cfi"] - reference["metric"]["cfi"], abs=FIT_TOLERANCE)
    assert 0 <= table.loc["metric", "p_diff"] <= 1


def test_strict_step_matches_lavaan(hs_invariance):
    """The strict step (equal residual variances) against make_reference_sem.R."""
    result, _ = hs_invariance
    reference = json.loads((REFERENCE / "sem_reference.json").read_text())["hs_strict"]["fit"]
    row = result.table.loc["strict"]
    assert row["chisq"] == pytest.approx(reference["chisq"], rel=CHISQ_RELATIVE_TOLERANCE)
    assert row["df"] == reference["df"]
    for name in ("cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "srmr"):
        assert row[name] == pytest.approx(reference[FIT_NAMES_INV.get(name, name)], abs=FIT_TOLERANCE), name


FIT_NAMES_INV = {ours: theirs for theirs, ours in FIT_NAMES.items()}
