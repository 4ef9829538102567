"""Polychoric and pairwise Pearson correlations against psych on the reference data.

References: tests/reference/likert1500_reference.json (make_reference.R: ``polychoric(items)``)
and tests/reference/extra_reference.json (make_reference_extra.R: psych's per-pair path with the
continuity correction, an unused lowest category, smoothing of a non-positive-definite matrix,
``cor(x, use = "pairwise")``), all from psych 2.2.9.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rctscale.psychometrics.correlation import pearson, polychoric

REFERENCE = Path(__file__).resolve().parents[1] / "reference"

# Polychoric correlations: the target. psych's optimize() stops within about 1.2e-4
# (.Machine$double.eps^0.25) of the maximum; we converge to 1e-10, so agreement is ~1e-4 or better.
POLYCHORIC_TOLERANCE = 0.005
# Thresholds are closed-form (qnorm of cumulative proportions): only rounding differs.
THRESHOLD_TOLERANCE = 1e-8
# Pearson correlations are closed-form sums: only rounding differs.
PEARSON_TOLERANCE = 1e-10


def load(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


def likert_items() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "likert1500.csv").iloc[:, :18]


def thresholds_from_json(rows: list[list[float | None]]) -> np.ndarray:
    """jsonlite writes -Inf/Inf as null: an unused lowest (highest) category gives -inf (inf)."""
    table = []
    for row in rows:
        values = []
        for position, value in enumerate(row):
            if value is None:
                value = -np.inf if position < len(row) / 2 else np.inf
            values.append(value)
        table.append(values)
    return np.array(table, dtype=float)


def warnings_of(reference: dict) -> list[str]:
    """jsonlite's auto_unbox writes a single warning as a string, several as a list."""
    found = reference["warnings"]
    return [found] if isinstance(found, str) else list(found)


def max_deviation(ours: pd.DataFrame, expected: list[list[float]]) -> float:
    return float(np.abs(ours.to_numpy() - np.array(expected, dtype=float)).max())


def test_polychoric_likert1500_matches_psych() -> None:
    reference = load("likert1500_reference.json")["polychoric"]
    items = likert_items()[reference["items"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # psych warns about nothing here, and neither should we
        rho = polychoric(items)
    assert list(rho.columns) == reference["items"]
    assert max_deviation(rho, reference["rho"]) < POLYCHORIC_TOLERANCE
    thresholds = rho.attrs["thresholds"]
    assert list(thresholds.columns) == ["t1", "t2", "t3", "t4"]
    assert np.abs(thresholds.to_numpy() - np.array(reference["tau"])).max() < THRESHOLD_TOLERANCE


def sparse_items() -> pd.DataFrame:
    """80 respondents, c1-c6, c6's top category merged: psych's per-pair path, empty cells."""
    items = likert_items().iloc[:80, :6].copy()
    items.loc[items["c6"] == 5, "c6"] = 4
    return items


def test_polychoric_pairwise_thresholds_with_continuity_correction_match_psych() -> None:
    reference = load("extra_reference.json")["polychoric_sparse"]
    assert any("global set to FALSE" in w for w in warnings_of(reference))  # the path we mean to test
    with pytest.warns(UserWarning) as caught:
        rho = polychoric(sparse_items())
    messages = " ".join(str(w.message) for w in caught)
    assert "same highest response category" in messages
    assert "empty cell" in messages
    assert max_deviation(rho, reference["rho"]) < POLYCHORIC_TOLERANCE


def test_polychoric_pairwise_thresholds_without_correction_match_psych() -> None:
    reference = load("extra_reference.json")["polychoric_sparse"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = polychoric(sparse_items(), correct=0)
    assert max_deviation(rho, reference["rho_correct0"]) < POLYCHORIC_TOLERANCE


def test_polychoric_with_an_unused_lowest_category_matches_psych() -> None:
    reference = load("extra_reference.json")["polychoric_gap"]
    items = likert_items().iloc[:, :6].copy()
    items.loc[items["c1"] == 1, "c1"] = 2
    rho = polychoric(items)
    assert max_deviation(rho, reference["rho"]) < POLYCHORIC_TOLERANCE
    expected = thresholds_from_json(reference["tau"])
    ours = rho.attrs["thresholds"].to_numpy()
    assert np.isneginf(ours[0, 0]) and np.isneginf(expected[0, 0])
    finite = np.isfinite(expected)
    assert np.abs(ours[finite] - expected[finite]).max() < THRESHOLD_TOLERANCE


def test_polychoric_of_binary_items_matches_psych() -> None:
    """Two categories coded 0/1 (tetrachoric correlations), with missing answers."""
    reference = load("extra_reference.json")["polychoric_binary"]
    items = likert_items()[reference["items"]]
    binary = (items >= 4).astype(float).where(items.notna())
    rho = polychoric(binary)
    assert max_deviation(rho, reference["rho"]) < POLYCHORIC_TOLERANCE
    assert np.abs(rho.attrs["thresholds"].to_numpy() - np.array(reference["tau"])).max() < THRESHOLD_TOLERANCE


def test_polychoric_smoothing_matches_psych_cor_smooth() -> None:
    reference = load("extra_reference.json")["polychoric_nonpd"]
    assert any("smoothing was done" in w for w in warnings_of(reference))
    items = pd.read_csv(REFERENCE / "nonpd_pairs.csv")
    raw = polychoric(items, smooth=False)
    assert max_deviation(raw, reference["rho_unsmoothed"]) < POLYCHORIC_TOLERANCE
    assert np.linalg.eigvalsh(raw.to_numpy()).min() < 0
    with pytest.warns(UserWarning, match="not positive definite"):
        smoothed = polychoric(items)
    assert max_deviation(smoothed, reference["rho"]) < POLYCHORIC_TOLERANCE
    thresholds = smoothed.attrs["thresholds"].to_numpy()
    assert np.abs(thresholds - np.array(reference["tau"])).max() < THRESHOLD_TOLERANCE


def test_pearson_pairwise_matches_r() -> None:
    reference = load("extra_reference.json")["pearson_likert"]
    r = pearson(likert_items()[reference["items"]])
    assert max_deviation(r, reference["r"]) < PEARSON_TOLERANCE
