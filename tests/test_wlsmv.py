"""Unit tests of the ordinal CFA (samplestats_ordinal, model_ordinal, estimator_dwls, cfa_ordinal).

The agreement with lavaan is in tests/conformance/test_wlsmv.py; here: input checks and their
messages, category handling, options, analytic derivatives and the bivariate normal CDF.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from rctscale.errors import AnalysisError, ModelError
from rctscale.psychometrics.sem import EstimatorNotAvailableError, cfa, invariance
from rctscale.psychometrics.sem.cfa_ordinal import MAX_ORDINAL_CATEGORIES, fit_ordinal
from rctscale.psychometrics.sem.samplestats_ordinal import (
    bivariate_normal_cdf,
    bivariate_normal_pdf,
    item_categories,
    ordinal_sample_stats,
)
from rctscale.psychometrics.sem.syntax import parse_model

REFERENCE = Path(__file__).resolve().parent / "reference"
MODEL_1F = "f =~ y1 + y2 + y3 + y4 + y5"
# Genz's algorithm is accurate to about 1e-15; scipy's integration to about 1e-8 by default
BVN_TOLERANCE = 1e-7
# central differences with h = 1e-6 on smooth functions: error ~1e-10
DERIVATIVE_TOLERANCE = 1e-7
# lavaan's nlminb stops the polychoric optimisation at ~1e-8
POLYCHORIC_TOLERANCE = 1e-6


def simulate(n: int = 600, seed: int = 7, groups: bool = False) -> pd.DataFrame:
    """Five 4-category items from one factor (loadings .5-.8); optionally two groups."""
    rng = np.random.default_rng(seed)
    eta = rng.normal(size=n)
    loadings = np.array([0.8, 0.7, 0.6, 0.5, 0.7])
    latent = eta[:, None] * loadings + rng.normal(size=(n, 5)) * np.sqrt(1 - loadings**2)
    cuts = np.array([-1.0, 0.0, 0.8])
    data = pd.DataFrame(1.0 + (latent[:, :, None] > cuts).sum(axis=2), columns=[f"y{i}" for i in range(1, 6)])
    if groups:
        data["g"] = np.where(np.arange(n) % 2 == 0, "a", "b")
    return data


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulate()


@pytest.fixture(scope="module")
def likert() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "likert1500.csv")


# --- bivariate normal ---------------------------------------------------------------------------

def test_bivariate_normal_cdf_against_scipy():
    rng = np.random.default_rng(3)
    h, k = rng.normal(scale=1.5, size=(2, 60))
    rho = np.concatenate([rng.uniform(-0.999, 0.999, 40), [0.95, -0.95, 0.93, -0.93, 0.999, -0.999, 0.0, 0.3] * 2
                          + [0.5, -0.5, 0.92, -0.92]])
    ours = bivariate_normal_cdf(h, k, rho)
    expected = [multivariate_normal([0, 0], [[1, r], [r, 1]]).cdf([a, b]) for a, b, r in zip(h, k, rho, strict=True)]
    assert np.allclose(ours, expected, rtol=0, atol=BVN_TOLERANCE)


def test_bivariate_normal_limits_and_density():
    from scipy.special import ndtr

    assert bivariate_normal_cdf(np.inf, 0.3, 0.5) == pytest.approx(ndtr(0.3))
    assert bivariate_normal_cdf(0.3, np.inf, -0.5) == pytest.approx(ndtr(0.3))
    assert bivariate_normal_cdf(-np.inf, 0.3, 0.5) == 0.0
    assert bivariate_normal_cdf(np.inf, np.inf, 0.2) == 1.0
    assert bivariate_normal_cdf(0.0, 0.0, 0.5) == pytest.approx(1 / 4 + np.arcsin(0.5) / (2 * np.pi), abs=1e-15)
    rho = np.array([0.3])
    h, k = np.array([0.4]), np.array([-0.2])
    step = 1e-6
    slope = (bivariate_normal_cdf(h, k, rho + step) - bivariate_normal_cdf(h, k, rho - step)) / (2 * step)
    assert slope == pytest.approx(bivariate_normal_pdf(h, k, rho), abs=DERIVATIVE_TOLERANCE)
    assert bivariate_normal_pdf(np.array([np.inf]), k, rho)[0] == 0.0


# --- input checks -------------------------------------------------------------------------------

def test_constant_item_is_named(data):
    broken = data.assign(y3=2.0)
    with pytest.raises(AnalysisError, match="'y3'.*constant"):
        cfa(MODEL_1F, broken, ordered=True)


def test_item_with_one_category_after_listwise_deletion_is_named():
    frame = pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(AnalysisError, match="'a' has 1 observed category"):
        item_categories([frame])


def test_too_many_categories_is_named(data):
    rng = np.random.default_rng(0)
    broken = data.assign(y2=rng.integers(0, MAX_ORDINAL_CATEGORIES + 5, len(data)).astype(float))
    with pytest.raises(AnalysisError, match="'y2' has .* distinct values.*ordered"):
        cfa(MODEL_1F, broken, ordered=True)


def test_category_empty_in_one_group_is_named():
    frame = simulate(groups=True)
    frame.loc[(frame["g"] == "b") & (frame["y4"] == 4), "y4"] = 3.0
    with pytest.raises(AnalysisError, match="'y4' has no answers in category 4 of 4 in group 'b'"):
        cfa(MODEL_1F, frame, ordered=True, group="g")


def test_unused_category_values_are_not_categories(data):
    """Values 1, 2, 4 (no 3) are three categories, as lavaan's ordered(); the coding does not matter."""
    gapped = data.assign(y1=data["y1"].replace({3.0: 2.0}).replace({4.0: 7.0}))
    consecutive = data.assign(y1=data["y1"].replace({3.0: 2.0}).replace({4.0: 3.0}))
    first, second = cfa(MODEL_1F, gapped, ordered=True), cfa(MODEL_1F, consecutive, ordered=True)
    thresholds = first.estimates.query("lhs == 'y1' and op == '|'")
    assert list(thresholds["rhs"]) == ["t1", "t2"]
    assert first.fit["chisq_scaled"] == pytest.approx(second.fit["chisq_scaled"], rel=1e-12)


def test_perfectly_associated_binary_items_are_named():
    frame = pd.DataFrame({"a": [0, 0, 1, 1] * 30, "b": [0, 0, 1, 1] * 30, "c": [0, 1, 0, 1] * 30,
                          "d": [1, 0, 0, 1] * 30}, dtype=float)
    with pytest.raises(AnalysisError, match="'b' and 'a' are binary and perfectly associated"):
        ordinal_sample_stats([frame], ["all"])


def test_a_single_empty_cell_of_a_2x2_table_gets_lavaans_half():
    """lavaan adds 0.5 to the empty cell (keeping the margins); its lavCor() value is in wlsmv_reference.json."""
    reference = json.loads((REFERENCE / "wlsmv_reference.json").read_text())["zero_cell"]
    frame = pd.DataFrame({"a": np.repeat([0, 1], [213, 187]), "b": np.repeat([0, 0, 1], [213, 96, 91]),
                          "c": np.resize([0, 1, 2], 400)}, dtype=float)
    stats = ordinal_sample_stats([frame], ["all"]).groups[0]
    assert np.abs(stats.correlations - np.array(reference["polychoric"])).max() < POLYCHORIC_TOLERANCE
    assert stats.empty_cell_pairs == (("b", "a"),)


# --- options ------------------------------------------------------------------------------------

def test_ordered_list_naming_every_indicator_equals_ordered_true(data):
    listed = cfa(MODEL_1F, data.assign(extra=1.0), ordered=["y1", "y2", "y3", "y4", "y5", "extra"])
    everything = cfa(MODEL_1F, data, ordered=True)
    assert listed.fit["chisq_scaled"] == pytest.approx(everything.fit["chisq_scaled"], rel=1e-12)
    assert listed.options["estimator"] == "WLSMV" and listed.options["ordered"] == ["y1", "y2", "y3", "y4", "y5"]


def test_mixing_continuous_and_ordinal_indicators_is_refused_clearly(data):
    with pytest.raises(EstimatorNotAvailableError, match="mixing continuous and ordinal.*y4, y5 are not in ordered"):
        cfa(MODEL_1F, data, ordered=["y1", "y2", "y3"])
    with pytest.raises(ModelError, match="ordered names variable.*nope"):
        cfa(MODEL_1F, data, ordered=["y1", "nope"])


def test_estimator_choices(data):
    with pytest.raises(EstimatorNotAvailableError, match="ordinal items only.*ordered=True"):
        cfa(MODEL_1F, data, estimator="WLSMV")
    with pytest.raises(EstimatorNotAvailableError, match="'ML' is not available for ordered items"):
        cfa(MODEL_1F, data, estimator="ML", ordered=True)
    with pytest.raises(EstimatorNotAvailableError, match="missing='fiml'"):
        cfa(MODEL_1F, data, ordered=True, missing="fiml")
    assert cfa(MODEL_1F, data).options["estimator"] == "ML"  # the default stays ML for continuous items
    assert cfa(MODEL_1F, data, estimator="wlsmv", ordered=True).options["estimator"] == "WLSMV"


def test_syntax_that_has_no_meaning_for_ordinal_items(data):
    with pytest.raises(ModelError, match="line 2: 'y1 ~~ y1'.*not a parameter"):
        cfa(MODEL_1F + "\ny1 ~~ y1", data, ordered=True)
    with pytest.raises(ModelError, match="line 2: 'y2 ~ 1'.*intercepts of ordinal items"):
        cfa(MODEL_1F + "\ny2 ~ 1", data, ordered=True)
    with pytest.raises(ModelError, match="line 2.*added and estimated automatically"):
        cfa(MODEL_1F + "\ny1 | t1", data, ordered=True)
    with pytest.raises(ModelError, match="residuals.*cannot be used with ordinal"):
        cfa(MODEL_1F, simulate(groups=True), ordered=True, group="g", group_equal=("residuals",))


def test_non_convergence_is_reported(data):
    with pytest.warns(UserWarning, match="did not converge"):
        fit = cfa(MODEL_1F, data, ordered=True, max_iterations=1)
    assert not fit.converged
    assert "did NOT converge" in str(fit)


def test_listwise_deletion_and_result_contents(data):
    holes = data.copy()
    holes.iloc[[3, 10, 50], [0, 2, 4]] = np.nan
    fit = cfa(MODEL_1F + "\ny2 ~~ y3", holes, ordered=True)
    assert fit.fit["n"] == len(data) - 3
    ops = set(fit.estimates["op"])
    assert {"=~", "|", "~~", "~*~", "~1"} <= ops
    residual = fit.estimates.query("lhs == 'y1' and op == '~~' and rhs == 'y1'")
    std_loading = fit.std_loadings.loc["y1", "f"]
    assert residual["est"].iloc[0] == pytest.approx(1 - std_loading**2)  # delta = 1: theta = 1 - lambda^2 psi
    covariance = fit.estimates.query("lhs == 'y2' and op == '~~' and rhs == 'y3'")
    assert covariance["free"].iloc[0] > 0 and covariance["se"].iloc[0] > 0
    text = str(fit)
    assert "scaled (scaled.shifted)" in text and "AIC" not in text
    json.dumps(fit.to_dict())
    with pytest.raises(NotImplementedError):
        fit.modification_indices()


def test_std_lv_and_marker_identification_agree(data):
    marker = cfa(MODEL_1F, data, ordered=True)
    std_lv = cfa(MODEL_1F, data, ordered=True, std_lv=True)
    assert std_lv.fit["chisq"] == pytest.approx(marker.fit["chisq"], rel=1e-8)
    assert np.allclose(std_lv.std_loadings, marker.std_loadings, atol=1e-7)


# --- derivatives --------------------------------------------------------------------------------

def test_jacobian_and_gradient_are_analytic_derivatives():
    frame = simulate(groups=True)
    fitted = fit_ordinal(parse_model(MODEL_1F + "\ny1 ~~ y2"), frame, group="g", group_equal=("thresholds",),
                         ordered=True)
    model, stats, estimator = fitted.model, fitted.stats, fitted.estimator
    assert (np.concatenate(model.delta_param) >= 0).sum() == 5  # the scales of the second group
    rng = np.random.default_rng(1)
    params = fitted.optim.params + 0.02 * rng.normal(size=model.n_free)
    step = 1e-6
    analytic = model.jacobian(params)
    gradient = estimator.gradient(model, params, stats)
    for k in range(model.n_free):
        shift = np.zeros(model.n_free)
        shift[k] = step
        up, down = model.implied(params + shift), model.implied(params - shift)
        for g in range(model.n_groups):
            assert np.allclose(analytic[g][:, k], (up[g] - down[g]) / (2 * step), atol=DERIVATIVE_TOLERANCE)
        numeric = (estimator.objective(model, params + shift, stats)
                   - estimator.objective(model, params - shift, stats)) / (2 * step)
        assert gradient[k] == pytest.approx(numeric, abs=DERIVATIVE_TOLERANCE)


def test_gamma_is_symmetric_and_weights_positive(data):
    stats = ordinal_sample_stats([data], ["all"]).groups[0]
    assert np.allclose(stats.gamma, stats.gamma.T)
    assert np.all(stats.wls_vd > 0)
    assert np.linalg.eigvalsh(stats.gamma).min() > 0
    assert len(stats.wls_obs) == 5 * 3 + 10


# --- invariance ---------------------------------------------------------------------------------

def test_ordinal_invariance_steps_and_messages():
    frame = simulate(n=800, groups=True)
    result = invariance(MODEL_1F, frame, group="g", ordered=True)
    assert list(result.table.index) == ["configural", "thresholds", "scalar"]
    assert result.table["df_diff"].iloc[1:].tolist() == [15 - 5 - 1, 4]
    assert result.table["converged"].all()
    assert "delta_cfi_scaled" in str(result)
    with pytest.raises(ValueError, match="'metric'.*ordinal"):
        invariance(MODEL_1F, frame, group="g", ordered=True, steps=("configural", "metric"))


def test_equal_thresholds_free_scales_and_means_in_later_groups_only():
    frame = simulate(n=800, groups=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = cfa(MODEL_1F, frame, ordered=True, group="g", group_equal=("thresholds",))
    est = fit.estimates
    scales = est.query("op == '~*~'")
    assert (scales.query("group == 'a'")["free"] == 0).all() and (scales.query("group == 'b'")["free"] > 0).all()
    means = est.query("op == '~1' and lhs == 'f'")
    assert means["free"].tolist()[0] == 0 and means["free"].tolist()[1] > 0
    thresholds = est.query("op == '|'")
    assert np.allclose(thresholds.query("group == 'a'")["est"], thresholds.query("group == 'b'")["est"])


def test_unidentified_scale_is_named():
    """Freeing all thresholds of an item while its scale is free leaves scale and loading confounded."""
    frame = simulate(n=800, groups=True)
    with pytest.raises(ModelError, match="not identified.*y3 ~\\*~ y3"):
        cfa(MODEL_1F, frame, ordered=True, group="g", group_equal=("thresholds",),
            group_partial=("y3|t1", "y3|t2", "y3|t3"))
