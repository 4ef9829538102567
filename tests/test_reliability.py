"""Unit tests of rctscale.psychometrics.reliability: hand-computed cases, options, errors, and
cross-checks with pingouin. The comparisons with R's psych are in tests/conformance/."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rctscale.errors import AnalysisError
from rctscale.psychometrics.reliability import (
    AlphaResult,
    alpha,
    alpha_if_item_dropped,
    guttman_lambda6,
    icc,
    item_rest_correlation,
    ordinal_alpha,
    split_half,
)

REFERENCE = Path(__file__).resolve().parent / "reference"

# Results computed by hand as fractions: only floating-point rounding differs.
EXACT = 1e-12
# Published values are printed to two decimals: anything within half a unit of the last digit.
PUBLISHED_TWO_DECIMALS = 0.005
# pingouin rounds its alpha interval to three decimals.
PINGOUIN_CI_ROUNDING = 0.0005 + 1e-12

# Four respondents, three items. By hand (n - 1 = 3 in every variance):
#   q1 = 1 2 3 4   var 5/3         q2 = 1 3 2 4   var 5/3        q3 = 2 2 4 4   var 4/3
#   total = 4 7 9 12, var 34/3     cov(q1,q2) = 4/3  cov(q1,q3) = 4/3  cov(q2,q3) = 2/3
#   alpha = 3/2 * (1 - (14/3) / (34/3)) = 15/17
#   without q3: var(q1 + q2) = (5 + 5 + 2*4)/3 = 18/3, so alpha = 2 * (1 - (10/3) / (18/3)) = 8/9
TOY = pd.DataFrame({"q1": [1, 2, 3, 4], "q2": [1, 3, 2, 4], "q3": [2, 2, 4, 4]})


def test_alpha_of_a_hand_computed_case() -> None:
    result = alpha(TOY)
    assert isinstance(result, AlphaResult)
    assert result.alpha == pytest.approx(15 / 17, abs=EXACT)
    # correlations: r12 = 4/5, r13 = 4/sqrt(20), r23 = 2/sqrt(20)
    r12, r13, r23 = 0.8, 4 / math.sqrt(20), 2 / math.sqrt(20)
    mean_r = (r12 + r13 + r23) / 3
    assert result.average_r == pytest.approx(mean_r, abs=EXACT)
    assert result.std_alpha == pytest.approx(3 * mean_r / (1 + 2 * mean_r), abs=EXACT)
    assert result.n == 4 and result.n_items == 3


def test_item_statistics_of_a_hand_computed_case() -> None:
    table = alpha(TOY).items
    # q3 against the rest (q1 + q2 = 2 5 5 8): cross-products 6, sums of squares 4 and 18
    assert table.loc["q3", "r_drop"] == pytest.approx(6 / math.sqrt(4 * 18), abs=EXACT)
    assert table.loc["q3", "alpha_if_dropped"] == pytest.approx(8 / 9, abs=EXACT)
    # without q1: var(q2) + var(q3) = 9/3, var(q2 + q3) = (5 + 4 + 2*2)/3 = 13/3
    assert table.loc["q1", "alpha_if_dropped"] == pytest.approx(2 * (1 - 9 / 13), abs=EXACT)
    assert table["mean"].tolist() == pytest.approx([2.5, 2.5, 3.0])
    assert table["sd"].tolist() == pytest.approx([math.sqrt(5 / 3), math.sqrt(5 / 3), math.sqrt(4 / 3)])
    # scale range over all items is 1..4: q1 and q2 have one answer at each end, q3 none at 1
    assert table["floor"].tolist() == pytest.approx([0.25, 0.25, 0.0])
    assert table["ceiling"].tolist() == pytest.approx([0.25, 0.25, 0.5])
    assert item_rest_correlation(TOY).tolist() == pytest.approx(table["r_drop"].tolist(), abs=EXACT)
    assert alpha_if_item_dropped(TOY).tolist() == pytest.approx(table["alpha_if_dropped"].tolist(), abs=EXACT)


def test_feldt_interval_formula() -> None:
    from scipy import stats

    result = alpha(TOY, ci=0.90)
    n, k = 4, 3
    lower = 1 - (1 - 15 / 17) * stats.f.ppf(0.95, n - 1, (n - 1) * (k - 1))
    upper = 1 - (1 - 15 / 17) * stats.f.ppf(0.05, n - 1, (n - 1) * (k - 1))
    assert result.ci == pytest.approx((lower, upper), abs=EXACT)


def test_pairwise_missing_uses_available_answers() -> None:
    data = TOY.astype(float).copy()
    data.loc[0, "q3"] = np.nan
    table = alpha(data).items
    assert table["n"].tolist() == [4, 4, 3]
    assert table.loc["q3", "mean"] == pytest.approx(10 / 3)
    # the q1-q2 covariance still uses all four respondents
    assert alpha(data[["q1", "q2"]]).alpha == pytest.approx(2 * (1 - (10 / 3) / (18 / 3)), abs=EXACT)


def test_reverse_keying_equals_reversing_by_hand() -> None:
    rng = np.random.default_rng(7)
    latent = rng.normal(size=200)
    data = pd.DataFrame({f"q{j}": np.clip(np.round(3 + latent + rng.normal(size=200)), 1, 5)
                         for j in range(4)})
    data["q3"] = 6 - data["q3"]  # a negatively worded item
    keyed = alpha(data, reverse=["q3"])
    lowest, highest = data.min().min(), data.max().max()
    by_hand = data.assign(q3=lowest + highest - data["q3"])
    expected = alpha(by_hand)
    assert keyed.alpha == pytest.approx(expected.alpha, abs=EXACT)
    assert keyed.items["mean"].tolist() == pytest.approx(expected.items["mean"].tolist(), abs=EXACT)
    assert keyed.items.loc["q3", "r_drop"] > 0 > alpha(data).items.loc["q3", "r_drop"]
    assert keyed.alpha > alpha(data).alpha
    assert keyed.options["reverse"] == ["q3"]


def test_reverse_keying_with_a_stated_scale_range() -> None:
    data = pd.DataFrame({"a": [2, 3, 4, 4], "b": [4, 3, 2, 2], "c": [2, 2, 4, 3]})
    result = alpha(data, reverse=["b"], scale_range=(1, 5))
    assert result.items.loc["b", "mean"] == pytest.approx(6 - data["b"].mean())
    assert result.items["floor"].tolist() == [0.0, 0.0, 0.0]  # nobody answered 1
    with pytest.raises(AnalysisError, match="outside scale_range"):
        alpha(data, scale_range=(1, 3))


def test_reverse_of_an_unknown_item_names_it() -> None:
    with pytest.raises(AnalysisError, match="'q9'"):
        alpha(TOY, reverse=["q9"])


def test_constant_item_raises_with_its_name() -> None:
    data = TOY.assign(q4=3)
    with pytest.raises(AnalysisError, match="item 'q4' is constant"):
        alpha(data)


def test_non_numeric_item_raises_with_its_name() -> None:
    data = TOY.astype(object).assign(q2=["1", "2", "x", "4"])
    with pytest.raises(AnalysisError, match="item 'q2' is not numeric"):
        alpha(data)


def test_items_without_common_respondents_raise() -> None:
    data = pd.DataFrame({"a": [1, 2, 3, np.nan, np.nan, np.nan], "b": [np.nan, np.nan, np.nan, 1, 2, 3],
                         "c": [1, 3, 2, 2, 3, 1]})
    with pytest.raises(AnalysisError, match="'a' and 'b'"):
        alpha(data)


def test_two_items_have_no_alpha_if_dropped() -> None:
    result = alpha(TOY[["q1", "q2"]])
    assert result.items["alpha_if_dropped"].isna().all()
    assert result.items["r_drop"].tolist() == pytest.approx([0.8, 0.8])


def test_bootstrap_is_reproducible_with_a_seed() -> None:
    data = pd.read_csv(REFERENCE / "hs1939.csv")[["x1", "x2", "x3"]]
    first = alpha(data, n_boot=300, seed=11)
    second = alpha(data, n_boot=300, seed=11)
    other = alpha(data, n_boot=300, seed=12)
    assert first.boot_ci == second.boot_ci
    assert first.boot_ci != other.boot_ci
    low, high = first.boot_ci
    assert low < first.alpha < high
    assert alpha(data).boot_ci is None


def test_bootstrap_matches_explicit_resampling() -> None:
    """The weighted-sum shortcut equals recomputing alpha on resampled rows (with missing answers)."""
    data = pd.read_csv(REFERENCE / "likert1500.csv")[["c1", "c2", "c3", "c4"]].iloc[:300]
    n_boot, seed = 50, 3
    rng = np.random.default_rng(seed)
    alphas = []
    for _ in range(n_boot):
        rows = rng.integers(0, len(data), len(data))
        alphas.append(alpha(data.iloc[rows].reset_index(drop=True)).alpha)
    expected = tuple(np.quantile(alphas, [0.025, 0.975]))
    assert alpha(data, n_boot=n_boot, seed=seed).boot_ci == pytest.approx(expected, abs=EXACT)


def test_alpha_agrees_with_pingouin() -> None:
    pingouin = pytest.importorskip("pingouin")
    for data in (pd.read_csv(REFERENCE / "hs1939.csv")[[f"x{i}" for i in range(1, 10)]],
                 pd.read_csv(REFERENCE / "likert1500.csv").iloc[:, :6]):  # with missing answers
        theirs, (low, high) = pingouin.cronbach_alpha(data)
        ours = alpha(data)
        assert ours.alpha == pytest.approx(theirs, abs=EXACT)
        assert ours.ci == pytest.approx((low, high), abs=PINGOUIN_CI_ROUNDING)


def test_result_converts_to_a_dict_and_prints() -> None:
    result = alpha(TOY)
    plain = json.loads(json.dumps(result.to_dict()))
    assert plain["alpha"] == pytest.approx(15 / 17)
    assert set(plain["items"]["q1"]) >= {"r_drop", "alpha_if_dropped", "mean", "sd", "floor", "ceiling"}
    assert "alpha: 0.8824" in str(result)


def test_guttman_lambda6_by_regression() -> None:
    """lambda 6 from squared multiple correlations found by least squares."""
    data = pd.read_csv(REFERENCE / "hs1939.csv")[[f"x{i}" for i in range(1, 7)]]
    z = ((data - data.mean()) / data.std()).to_numpy()
    smcs = []
    for j in range(z.shape[1]):
        others = np.delete(z, j, axis=1)
        coef, *_ = np.linalg.lstsq(others, z[:, j], rcond=None)
        smcs.append(1 - ((z[:, j] - others @ coef) ** 2).sum() / (z[:, j] ** 2).sum())
    correlation = np.corrcoef(z, rowvar=False)
    expected = 1 - (len(smcs) - sum(smcs)) / correlation.sum()
    assert guttman_lambda6(data) == pytest.approx(expected, abs=1e-10)


def test_split_half_of_four_items_by_hand() -> None:
    data = pd.read_csv(REFERENCE / "hs1939.csv")[["x1", "x2", "x3", "x4"]]
    r = data.corr().to_numpy()
    total = r.sum()
    splits = {((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))}
    coefficients = [4 * r[np.ix_(a, b)].sum() / total for a, b in splits]
    result = split_half(data)
    assert result.n_splits == 6  # every 2-item first half: each split twice, as psych counts
    assert result.max == pytest.approx(max(coefficients), abs=EXACT)
    assert result.min == pytest.approx(min(coefficients), abs=EXACT)
    assert result.mean == pytest.approx(np.mean(coefficients), abs=EXACT)
    # with an even number of items the mean split-half equals standardized alpha (Cronbach 1951)
    assert result.mean == pytest.approx(result.std_alpha, abs=EXACT)
    best = {frozenset(result.best_split[0]), frozenset(result.best_split[1])}
    names = list(data.columns)
    best_by_hand = max(splits, key=lambda s: 4 * r[np.ix_(*s)].sum() / total)
    assert best == {frozenset(names[i] for i in half) for half in best_by_hand}


def test_split_half_samples_many_items_reproducibly() -> None:
    data = pd.read_csv(REFERENCE / "likert1500.csv").iloc[:, :18]
    first = split_half(data, n_sample=2000, seed=5)
    assert not first.exhaustive and first.n_splits == 2000
    assert split_half(data, n_sample=2000, seed=5).max == first.max
    assert first.min <= first.mean <= first.max


SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
                          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
# Shrout & Fleiss (1979), Psychological Bulletin 86(2), table 4: ICC(1,1), (2,1), (3,1), (1,k), (2,k), (3,k)
SHROUT_FLEISS_PUBLISHED = [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]


def test_icc_reproduces_shrout_and_fleiss() -> None:
    result = icc(SHROUT_FLEISS)
    assert result.table.index.tolist() == ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"]
    assert result.table["icc"].tolist() == pytest.approx(SHROUT_FLEISS_PUBLISHED, abs=PUBLISHED_TWO_DECIMALS)
    assert (result.n_targets, result.n_raters) == (6, 4)
    # mean squares of Shrout & Fleiss's table 3: BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02
    ms = result.mean_squares
    ours = [ms["between_targets"], ms["within_targets"], ms["between_raters"], ms["residual"]]
    assert ours == pytest.approx([11.24, 6.26, 32.49, 1.02], abs=PUBLISHED_TWO_DECIMALS)
    table = result.table
    assert (table["ci_lower"] < table["icc"]).all() and (table["icc"] < table["ci_upper"]).all()


@pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")  # pingouin's own use of pandas
def test_icc_agrees_with_pingouin() -> None:
    pingouin = pytest.importorskip("pingouin")
    long = pd.DataFrame(SHROUT_FLEISS).rename_axis("target").reset_index().melt(
        id_vars="target", var_name="rater", value_name="rating")
    theirs = pingouin.intraclass_corr(long, targets="target", raters="rater", ratings="rating")
    theirs = theirs.set_index("Type")
    ours = icc(SHROUT_FLEISS).table
    # pingouin follows McGraw & Wong's names: A = absolute agreement, C = consistency
    names = {"ICC1": "ICC(1,1)", "ICC2": "ICC(A,1)", "ICC3": "ICC(C,1)",
             "ICC1k": "ICC(1,k)", "ICC2k": "ICC(A,k)", "ICC3k": "ICC(C,k)"}
    for mine, pingouin_name in names.items():
        assert ours.loc[mine, "icc"] == pytest.approx(theirs.loc[pingouin_name, "ICC"], abs=EXACT)
        assert ours.loc[mine, "F"] == pytest.approx(theirs.loc[pingouin_name, "F"], rel=EXACT)
        assert ours.loc[mine, "p"] == pytest.approx(theirs.loc[pingouin_name, "pval"], abs=EXACT)
        # pingouin rounds its 95 % interval to two decimals
        low, high = theirs.loc[pingouin_name, "CI95"]
        assert ours.loc[mine, "ci_lower"] == pytest.approx(low, abs=PUBLISHED_TWO_DECIMALS)
        assert ours.loc[mine, "ci_upper"] == pytest.approx(high, abs=PUBLISHED_TWO_DECIMALS)


def test_icc_drops_incomplete_targets_and_allows_a_constant_rater() -> None:
    ratings = pd.DataFrame(SHROUT_FLEISS, columns=["j1", "j2", "j3", "j4"]).astype(float)
    with_gap = pd.concat([ratings, pd.DataFrame({"j1": [5.0], "j2": [np.nan], "j3": [4.0], "j4": [5.0]})],
                         ignore_index=True)
    result = icc(with_gap)
    assert result.n_targets == 6 and result.options["targets_dropped"] == 1
    assert result.table["icc"].tolist() == pytest.approx(icc(ratings).table["icc"].tolist(), abs=EXACT)
    constant_rater = ratings.assign(j4=5.0)
    assert np.isfinite(icc(constant_rater).table["icc"]).all()


def test_icc_rejects_a_bad_level() -> None:
    with pytest.raises(AnalysisError, match="confidence level"):
        icc(SHROUT_FLEISS, ci=95)


def test_ordinal_alpha_is_standardized_alpha_of_the_polychoric_matrix() -> None:
    from rctscale.psychometrics.correlation import polychoric

    data = pd.read_csv(REFERENCE / "likert1500.csv")[["s1", "s2", "s3", "s4"]]
    rho = polychoric(data).to_numpy()
    k = rho.shape[0]
    result = ordinal_alpha(data)
    assert result.alpha == pytest.approx(k / (k - 1) * (1 - k / rho.sum()), abs=EXACT)
    assert result.alpha > alpha(data).std_alpha  # coarse categories attenuate Pearson correlations
    assert result.correlation.shape == (4, 4)
    keyed = ordinal_alpha(data.assign(s4=6 - data["s4"]), reverse=["s4"])
    assert keyed.alpha == pytest.approx(result.alpha, abs=1e-8)
