"""Unit tests of the SEM module: syntax, model building, identification, options, semopy cross-check."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rctscale.errors import ModelError, RctscaleError
from rctscale.psychometrics.sem import EstimatorNotAvailableError, cfa, invariance
from rctscale.psychometrics.sem.syntax import parse_model

REFERENCE = Path(__file__).resolve().parent / "reference"
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
# semopy stops its optimiser earlier than lavaan / us: its loadings differ in the 4th digit
SEMOPY_LOADING_TOLERANCE = 2e-3
SEMOPY_CHISQ_RELATIVE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def hs1939() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "hs1939.csv")


# --- syntax ---------------------------------------------------------------------------------

def test_parse_modifiers_comments_and_continuation():
    terms = parse_model(
        "# a comment line\n"
        "visual =~ x1 + 0.5*x2 +   # trailing comment, the statement continues\n"
        "          a*x3 + NA*x4; textual =~ x5\n"
        "   + c(b, NA)*x6\n"
        "x1 ~~ x2\n"
        "x1 ~ 1\n"
    )
    assert [(t.lhs, t.op, t.rhs) for t in terms] == [
        ("visual", "=~", "x1"), ("visual", "=~", "x2"), ("visual", "=~", "x3"), ("visual", "=~", "x4"),
        ("textual", "=~", "x5"), ("textual", "=~", "x6"), ("x1", "~~", "x2"), ("x1", "~", ""),
    ]
    assert terms[1].modifiers[0].entries == (0.5,)
    assert terms[2].modifiers[0].entries == ("a",)
    assert terms[3].modifiers[0].entries == (None,)
    assert terms[5].modifiers[0].entries == ("b", None)
    assert terms[5].line == 3


@pytest.mark.parametrize(("text", "line", "token"), [
    ("f =~ x1 + x2 + x3\ng x4 + x5", 2, "g x4 + x5"),
    ("f =~ x1 + x2 + x3\n\ng =~ x4 + + x5", 3, "empty term"),
    ("f =~ x1 + 2b*x2 + x3", 1, "2b"),
    ("f =~ x1 + x2 + x3\ny ~ f", 2, "y ~ f"),
    ("f =~ x1 + x2 + x3\nd := a*b", 2, ":="),
    ("f =~ x1 + x-2", 1, "x-2"),
])
def test_syntax_errors_name_line_and_token(text, line, token):
    with pytest.raises(ModelError, match=rf"line {line}:.*{token.replace('+', '[+]').replace('*', '[*]')}"):
        parse_model(text)


def test_empty_model():
    with pytest.raises(ModelError, match="empty"):
        parse_model("  # nothing\n")


# --- model building and identification ------------------------------------------------------

def test_unknown_item_is_named(hs1939):
    with pytest.raises(ModelError, match=r"not in the data: x99 \(line\(s\) 2\)"):
        cfa("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x99", hs1939)


def test_t_rule(hs1939):
    with pytest.raises(ModelError, match=r"not identified.*df = -1"):
        cfa("f =~ x1 + x2", hs1939)


def test_latent_without_scale(hs1939):
    with pytest.raises(ModelError, match="'f' has no scale"):
        cfa("f =~ NA*x1 + x2 + x3", hs1939)


def test_empirically_unidentified_model_names_parameters(hs1939):
    # two factors with one indicator each: df >= 0 overall, but factor and residual variance of
    # a single-indicator factor cannot be told apart
    with pytest.raises(ModelError, match="not identified.*x4 ~~ x4|not identified.*g ~~ g"):
        cfa("f =~ x1 + x2 + x3\ng =~ x4", hs1939)


def test_duplicate_parameter(hs1939):
    with pytest.raises(ModelError, match="line 3: 'x2 ~~ x1' is specified twice"):
        cfa("f =~ x1 + x2 + x3\nx1 ~~ x2\nx2 ~~ x1", hs1939)


def test_second_order_factor_rejected(hs1939):
    with pytest.raises(ModelError, match="second-order"):
        cfa("f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\nh =~ f + g", hs1939)


# --- options --------------------------------------------------------------------------------

def test_fixed_values_and_labels_are_honoured(hs1939):
    fit = cfa("visual =~ x1 + a*x2 + a*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + 0.8*x9\nx7 ~~ x8",
              hs1939)
    est = fit.estimates.set_index(["lhs", "op", "rhs"])["est"]
    assert est[("visual", "=~", "x2")] == est[("visual", "=~", "x3")]
    assert est[("speed", "=~", "x9")] == 0.8
    assert fit.fit["df"] == 24 + 1 + 1 - 1  # one equality, one fixed loading, one residual covariance
    assert fit.estimates.loc[fit.estimates["rhs"] == "x9", "se"].iloc[0] == 0.0


def test_std_lv_gives_the_same_fit(hs1939):
    marker = cfa(HS_MODEL, hs1939)
    unit_variance = cfa(HS_MODEL, hs1939, std_lv=True)
    assert unit_variance.fit["chisq"] == pytest.approx(marker.fit["chisq"], rel=1e-8)
    assert unit_variance.std_loadings.to_numpy() == pytest.approx(marker.std_loadings.to_numpy(), abs=1e-6)


def test_group_modifiers_and_partial_invariance(hs1939):
    metric = cfa(HS_MODEL, hs1939, group="school", group_equal=("loadings",))
    partial = cfa(HS_MODEL, hs1939, group="school", group_equal=("loadings",), group_partial=("visual=~x2",))
    assert partial.fit["df"] == metric.fit["df"] - 1
    by_labels = cfa("visual =~ x1 + c(a, a)*x2 + c(b, b)*x3\ntextual =~ x4 + c(c, c)*x5 + c(d, d)*x6\n"
                    "speed =~ x7 + c(e, e)*x8 + c(f, f)*x9", hs1939, group="school")
    assert by_labels.fit["chisq"] == pytest.approx(metric.fit["chisq"], rel=1e-8)
    fixed_in_one_group = cfa("visual =~ x1 + c(0.5, NA)*x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9",
                             hs1939, group="school")
    x2 = fixed_in_one_group.estimates.query("rhs == 'x2' and op == '=~'")
    assert x2["est"].iloc[0] == 0.5 and x2["free"].iloc[0] == 0 and x2["free"].iloc[1] > 0


def test_intercepts_switch_on_the_mean_structure(hs1939):
    fit = cfa(HS_MODEL + "\nx1 ~ 1", hs1939)
    assert fit.options["meanstructure"]
    assert fit.fit["chisq"] == pytest.approx(cfa(HS_MODEL, hs1939).fit["chisq"], rel=1e-8)
    assert fit.fit["df"] == 24


def test_ordinal_estimator_is_announced(hs1939):
    with pytest.raises(EstimatorNotAvailableError, match="WLSMV"):
        cfa(HS_MODEL, hs1939, estimator="WLSMV")
    with pytest.raises(RctscaleError, match="ordered"):
        cfa(HS_MODEL, hs1939, ordered=True)
    assert issubclass(EstimatorNotAvailableError, NotImplementedError)


def test_non_convergence_is_reported(hs1939):
    with pytest.warns(UserWarning, match="did not converge"):
        fit = cfa(HS_MODEL, hs1939, max_iterations=2)
    assert not fit.converged
    assert "did NOT converge" in str(fit)


def test_convergence_is_tight(hs1939):
    fit = cfa(HS_MODEL, hs1939, group="school", group_equal=("loadings", "intercepts"))
    assert fit.converged
    assert np.max(np.abs(fit.fitted.optim.gradient)) < 1e-6


def test_result_is_readable_and_serialisable(hs1939):
    fit = cfa(HS_MODEL, hs1939)
    text = str(fit)
    assert "CFI" in text and "visual" in text
    json.dumps(fit.to_dict())
    assert list(fit.loadings.columns) == ["visual", "textual", "speed"]
    assert fit.loadings.loc["x4", "visual"] == 0.0
    result = invariance(HS_MODEL, hs1939, group="school", steps=("configural", "metric"))
    json.dumps(result.to_dict())
    assert "metric" in str(result)


def test_listwise_deletion_is_the_default(hs1939):
    data = hs1939.copy()
    data.loc[:9, "x1"] = np.nan
    fit = cfa(HS_MODEL, data)
    assert fit.fit["n"] == len(data) - 10
    assert cfa(HS_MODEL, data, missing="fiml").fit["n"] == len(data)


def test_modification_indices_sorted(hs1939):
    table = cfa(HS_MODEL, hs1939).modification_indices(minimum=10)
    assert (table["mi"] >= 10).all() and table["mi"].is_monotonic_decreasing
    assert table.iloc[0][["lhs", "op", "rhs"]].tolist() == ["visual", "=~", "x9"]


# --- cross-check with semopy ----------------------------------------------------------------

def test_agrees_with_semopy(hs1939):
    semopy = pytest.importorskip("semopy")
    model = semopy.Model(HS_MODEL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(hs1939)
        stats = semopy.calc_stats(model)
    theirs = model.inspect()
    ours = cfa(HS_MODEL, hs1939)
    for row in theirs[theirs["op"] == "~"].itertuples():
        assert ours.loadings.loc[row.lval, row.rval] == pytest.approx(row.Estimate, abs=SEMOPY_LOADING_TOLERANCE)
    assert ours.fit["chisq"] == pytest.approx(stats.loc["Value", "chi2"], rel=SEMOPY_CHISQ_RELATIVE_TOLERANCE)
    assert ours.fit["cfi"] == pytest.approx(stats.loc["Value", "CFI"], abs=1e-3)
