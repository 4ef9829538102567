"""Simulation: seeded, faithful to the stated model, groups that differ as stated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rctscale as rs
from rctscale.errors import RctscaleError


def test_same_seed_same_data(mini_form: rs.Form) -> None:
    first = rs.simulate(mini_form, n=50, seed=7)
    pd.testing.assert_frame_equal(first, rs.simulate(mini_form, n=50, seed=7))
    assert not first.equals(rs.simulate(mini_form, n=50, seed=8))
    assert list(first.columns) == ["id", *mini_form.item_ids]
    assert set(np.unique(first[mini_form.item_ids])) <= {1, 2, 3, 4, 5}


def test_correlations_follow_the_loadings() -> None:
    # with many fine categories the item correlation approaches the product of the loadings
    loadings = pd.DataFrame({"f": [0.8, 0.6, 0.5]}, index=["a", "b", "c"])
    cuts = np.linspace(-2.5, 2.5, 40)
    data = rs.simulate_factor_model(loadings, thresholds=cuts, n=40_000, seed=3)
    r = data.corr()
    assert r.loc["a", "b"] == pytest.approx(0.48, abs=0.02)
    assert r.loc["a", "c"] == pytest.approx(0.40, abs=0.02)


def test_factor_correlations_and_thresholds() -> None:
    loadings = pd.DataFrame({"f": [0.9, 0.0], "g": [0.0, 0.9]}, index=["a", "b"])
    phi = pd.DataFrame([[1, -0.5], [-0.5, 1]], index=["f", "g"], columns=["f", "g"])
    data = rs.simulate_factor_model(loadings, phi, thresholds=[0.0], n=20_000, seed=1, first_category=0)
    assert set(np.unique(data)) == {0, 1}
    assert data.mean().to_numpy() == pytest.approx([0.5, 0.5], abs=0.02)
    assert data.corr().loc["a", "b"] < -0.2


def test_reverse_keyed_items_run_against_their_scale(mini_form: rs.Form) -> None:
    data = rs.simulate(mini_form, n=3000, seed=2)
    r = data[mini_form.item_ids].corr()
    assert r.loc["mi01", "mi02"] > 0.3
    assert r.loc["mi01", "mi03"] < -0.3  # mi03 is reverse-keyed


def test_groups_differ_as_stated(mini_form: rs.Form) -> None:
    data = rs.simulate(mini_form, n=4000, seed=5, groups={
        "a": {}, "b": rs.GroupSpec(factor_means={"total": 1.0}, threshold_shift={"mi04": 5.0})})
    assert data["group"].value_counts().to_dict() == {"a": 2000, "b": 2000}
    means = data.groupby("group")[["mi01", "mi04"]].mean()
    assert means.loc["b", "mi01"] > means.loc["a", "mi01"] + 0.4
    # mi04's thresholds moved far up in group b: nearly everyone answers in the lowest category
    assert means.loc["b", "mi04"] < 1.1


def test_missing_rate(mini_form: rs.Form) -> None:
    data = rs.simulate(mini_form, n=2000, seed=1, missing_rate=0.1)
    assert data[mini_form.item_ids].isna().to_numpy().mean() == pytest.approx(0.1, abs=0.01)


def test_impossible_models_are_refused() -> None:
    loadings = pd.DataFrame({"f": [1.2, 0.5]}, index=["a", "b"])
    with pytest.raises(RctscaleError, match="item 'a'"):
        rs.simulate_factor_model(loadings, n=10)
    phi = pd.DataFrame([[1, 1.5], [1.5, 1]], index=["f", "g"], columns=["f", "g"])
    with pytest.raises(RctscaleError, match="not positive definite"):
        rs.simulate_factor_model(pd.DataFrame({"f": [0.5], "g": [0.2]}, index=["a"]), phi, n=10)
