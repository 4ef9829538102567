"""Polyserial correlations against psych::polyserial (tests/reference/make_reference_polyserial.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conformance.reference_data import REFERENCE, load_json
from rctscale.errors import AnalysisError
from rctscale.psychometrics import polyserial

# psych's estimator is closed-form (no optimiser), so agreement is to floating-point rounding.
POLYSERIAL_TOLERANCE = 1e-10


def test_polyserial_matches_psych() -> None:
    reference = load_json("polyserial_reference.json")
    data = pd.read_csv(REFERENCE / "likert1500.csv")
    # R's rowSums leaves a sum missing when any item is missing
    continuous = pd.DataFrame({
        "conn_sum": data[[f"c{i}" for i in range(1, 7)]].sum(axis=1, min_count=6),
        "shame_sum": data[[f"s{i}" for i in range(1, 7)]].sum(axis=1, min_count=6),
    })
    ours = polyserial(continuous, data[["m1", "m2", "s1"]])
    assert list(ours.index) == reference["rows"] and list(ours.columns) == reference["columns"]
    np.testing.assert_allclose(ours.to_numpy(), np.array(reference["polyserial"]), atol=POLYSERIAL_TOLERANCE)


def test_polyserial_refuses_mismatched_rows_and_fractions() -> None:
    with pytest.raises(AnalysisError, match="same respondents"):
        polyserial(pd.Series([1.0, 2.0, 3.0], name="x"), pd.DataFrame({"y": [1, 2]}))
    with pytest.raises(AnalysisError, match="whole-number"):
        polyserial(pd.Series([1.0, 2.0, 3.0], name="x"), pd.DataFrame({"y": [1, 2.5, 3]}))
