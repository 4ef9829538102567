"""Reliability statistics against psych on the reference data.

References (psych 2.2.9): tests/reference/hs1939_reference.json and likert1500_reference.json
(make_reference.R: ``psych::alpha``) and tests/reference/extra_reference.json
(make_reference_extra.R: item means and sds, reverse keys, G6, splitHalf, ICC, ordinal alpha).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rctscale.psychometrics.reliability import (
    alpha,
    alpha_if_item_dropped,
    guttman_lambda6,
    icc,
    item_rest_correlation,
    ordinal_alpha,
    split_half,
)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"

# Alpha, standardized alpha, average r and the Feldt interval: the tolerance.
ALPHA_TOLERANCE = 1e-4
# Item-rest correlations (psych's r.drop) and alpha if an item is dropped: the tolerance.
ITEM_TOLERANCE = 1e-4
# Item means and standard deviations are plain sums over available answers: rounding only.
ITEM_MOMENT_TOLERANCE = 1e-10
# Split-half coefficients, lambda 2 and lambda 6 are closed-form in the correlation matrix.
SPLIT_HALF_TOLERANCE = 1e-10
# ICC from the ANOVA mean squares (psych::ICC(x, lmer = FALSE)): closed-form.
ICC_TOLERANCE = 1e-10
# psych::ICC's default lmer = TRUE estimates the same variance components iteratively (REML);
# lme4's optimizer stops about 1e-6 from the closed form (F differs by ~4e-5 on F = 11).
ICC_LMER_TOLERANCE = 1e-4
# Ordinal alpha inherits the polychoric estimates, each of which psych's optimize() locates only
# to about 1.2e-4; a sum of them is therefore compared at 1e-3 (measured: ~3e-6).
ORDINAL_ALPHA_TOLERANCE = 1e-3


def load(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


HS = pd.read_csv(REFERENCE / "hs1939.csv")
X9 = HS[[f"x{i}" for i in range(1, 10)]]
LIKERT = pd.read_csv(REFERENCE / "likert1500.csv").iloc[:, :18]

ALPHA_CASES = {
    "alpha_x1_x9": ("hs1939_reference.json", X9),
    "alpha_visual": ("hs1939_reference.json", X9[["x1", "x2", "x3"]]),
    "alpha_conn": ("likert1500_reference.json", LIKERT[["c1", "c2", "c3", "c4", "c5", "c6"]]),
    "alpha_mutu": ("likert1500_reference.json", LIKERT[["m1", "m2", "m3", "m4", "m5", "m6"]]),
    "alpha_shame": ("likert1500_reference.json", LIKERT[["s1", "s2", "s3", "s4", "s5", "s6"]]),
}


@pytest.mark.parametrize("case", sorted(ALPHA_CASES))
def test_alpha_matches_psych(case: str) -> None:
    file, items = ALPHA_CASES[case]
    reference = load(file)[case]
    result = alpha(items)
    assert result.alpha == pytest.approx(reference["raw_alpha"], abs=ALPHA_TOLERANCE)
    assert result.std_alpha == pytest.approx(reference["std_alpha"], abs=ALPHA_TOLERANCE)
    assert result.average_r == pytest.approx(reference["average_r"], abs=ALPHA_TOLERANCE)
    assert result.ci == pytest.approx(tuple(reference["feldt_ci"]), abs=ALPHA_TOLERANCE)
    assert result.n == len(items)


@pytest.mark.parametrize("case", sorted(ALPHA_CASES))
def test_item_statistics_match_psych(case: str) -> None:
    file, items = ALPHA_CASES[case]
    reference = load(file)[case]
    table = alpha(items).items
    expected_r_drop = pd.Series(reference["r_drop"])
    expected_dropped = pd.Series(reference["alpha_if_dropped"])
    assert list(table.index) == list(expected_r_drop.index)
    assert np.abs(table["r_drop"] - expected_r_drop).max() < ITEM_TOLERANCE
    assert np.abs(table["alpha_if_dropped"] - expected_dropped).max() < ITEM_TOLERANCE
    # the stand-alone functions give the same columns
    assert np.abs(item_rest_correlation(items) - expected_r_drop).max() < ITEM_TOLERANCE
    assert np.abs(alpha_if_item_dropped(items) - expected_dropped).max() < ITEM_TOLERANCE


@pytest.mark.parametrize(("case", "items"), [("alpha_visual_items", X9[["x1", "x2", "x3"]]),
                                             ("alpha_conn_items", LIKERT.iloc[:, :6])])
def test_item_moments_and_lambda6_match_psych(case: str, items: pd.DataFrame) -> None:
    reference = load("extra_reference.json")[case]
    table = alpha(items).items
    assert table["n"].tolist() == reference["n"]
    assert np.abs(table["mean"].to_numpy() - reference["mean"]).max() < ITEM_MOMENT_TOLERANCE
    assert np.abs(table["sd"].to_numpy() - reference["sd"]).max() < ITEM_MOMENT_TOLERANCE
    assert guttman_lambda6(items) == pytest.approx(reference["g6"], abs=ALPHA_TOLERANCE)


def test_reverse_keyed_alpha_matches_psych_keys() -> None:
    reference = load("extra_reference.json")["alpha_keyed_shame"]
    result = alpha(LIKERT, reverse=[f"s{i}" for i in range(1, 7)])
    assert result.alpha == pytest.approx(reference["raw_alpha"], abs=ALPHA_TOLERANCE)
    assert result.std_alpha == pytest.approx(reference["std_alpha"], abs=ALPHA_TOLERANCE)
    assert result.average_r == pytest.approx(reference["average_r"], abs=ALPHA_TOLERANCE)
    assert result.ci == pytest.approx(tuple(reference["feldt_ci"]), abs=ALPHA_TOLERANCE)
    table = result.items
    assert np.abs(table["r_drop"].to_numpy() - reference["r_drop"]).max() < ITEM_TOLERANCE
    assert np.abs(table["alpha_if_dropped"].to_numpy() - reference["alpha_if_dropped"]).max() < ITEM_TOLERANCE
    # psych reverses as (lowest + highest answer over all items) - x, and so do we
    assert np.abs(table["mean"].to_numpy() - reference["mean"]).max() < ITEM_MOMENT_TOLERANCE
    assert np.abs(table["sd"].to_numpy() - reference["sd"]).max() < ITEM_MOMENT_TOLERANCE


@pytest.mark.parametrize(("case", "items"), [("split_half_x1_x9", X9),
                                             ("split_half_conn", LIKERT.iloc[:, :6])])
def test_split_half_matches_psych(case: str, items: pd.DataFrame) -> None:
    """psych::splitHalf with every split tried (psych >= 2.3.12; see make_reference_extra.R)."""
    reference = load("extra_reference.json")[case]
    result = split_half(items)
    assert result.exhaustive
    for ours, theirs in [("max", "max"), ("min", "min"), ("mean", "mean"), ("std_alpha", "alpha"),
                         ("lambda2", "lambda2"), ("lambda6", "lambda6"), ("average_r", "av_r"),
                         ("median_r", "med_r")]:
        assert getattr(result, ours) == pytest.approx(reference[theirs], abs=SPLIT_HALF_TOLERANCE), ours


def test_split_half_lambdas_match_unpatched_psych_229() -> None:
    """psych 2.2.9's own splitHalf misses splits for an odd number of items, not its lambdas."""
    reference = load("extra_reference.json")["split_half_x1_x9_psych229"]
    result = split_half(X9)
    assert result.lambda2 == pytest.approx(reference["lambda2"], abs=SPLIT_HALF_TOLERANCE)
    assert result.lambda6 == pytest.approx(reference["lambda6"], abs=SPLIT_HALF_TOLERANCE)
    assert result.max >= reference["max"] - SPLIT_HALF_TOLERANCE  # we search a superset of its splits
    assert result.min <= reference["min"] + SPLIT_HALF_TOLERANCE


SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
                          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
ICC_COLUMNS = [("icc", "icc"), ("F", "F"), ("df1", "df1"), ("df2", "df2"), ("p", "p"),
               ("ci_lower", "lower"), ("ci_upper", "upper")]


@pytest.mark.parametrize(("case", "ratings", "tolerance"), [
    ("icc_shrout_fleiss_aov", SHROUT_FLEISS, ICC_TOLERANCE),
    ("icc_shrout_fleiss_lmer", SHROUT_FLEISS, ICC_LMER_TOLERANCE),
    ("icc_hs_visual_aov", X9[["x1", "x2", "x3"]], ICC_TOLERANCE),
])
def test_icc_matches_psych(case: str, ratings: np.ndarray | pd.DataFrame, tolerance: float) -> None:
    reference = load("extra_reference.json")[case]
    table = icc(ratings).table
    assert table.index.tolist() == reference["type"]
    for ours, theirs in ICC_COLUMNS:
        expected = np.array(reference[theirs], dtype=float)
        # F is of order 10 here: compare it relatively, everything else absolutely
        scale = np.maximum(np.abs(expected), 1.0) if ours == "F" else 1.0
        assert (np.abs(table[ours].to_numpy() - expected) / scale).max() < tolerance, ours


@pytest.mark.parametrize(("scale", "columns"), [("conn", slice(0, 6)), ("mutu", slice(6, 12)),
                                               ("shame", slice(12, 18))])
def test_ordinal_alpha_matches_psych(scale: str, columns: slice) -> None:
    reference = load("extra_reference.json")["ordinal_alpha"][scale]
    result = ordinal_alpha(LIKERT.iloc[:, columns])
    assert result.alpha == pytest.approx(reference["alpha"], abs=ORDINAL_ALPHA_TOLERANCE)
    assert result.alpha == pytest.approx(reference["std_alpha"], abs=ORDINAL_ALPHA_TOLERANCE)
    assert result.average_r == pytest.approx(reference["average_r"], abs=ORDINAL_ALPHA_TOLERANCE)
    assert np.abs(result.items["r_drop"].to_numpy() - reference["r_drop"]).max() < ORDINAL_ALPHA_TOLERANCE
    assert (np.abs(result.items["alpha_if_dropped"].to_numpy() - reference["alpha_if_dropped"]).max()
            < ORDINAL_ALPHA_TOLERANCE)
