"""The CAT engine: stopping rules, content balancing, exposure control, resumable sessions, and
the project's goal on a simulated 30-item bank."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rctscale.errors import AnalysisError
from rctscale.psychometrics.cat import CATRules, CATSession, CATState, simulate_cat
from rctscale.psychometrics.irt import (
    category_probabilities,
    eap_scores,
    graded_response_model,
    item_information,
    quadrature,
)

REFERENCE = Path(__file__).parent / "reference"

# The project's goal for a CAT on a 30-item bank: agree with the full bank while asking at most
# half of its items.
GOAL_CORRELATION_WITH_FULL_BANK = 0.95
GOAL_SHARE_OF_BANK = 0.5

FACET_NAMES = ("connection", "mutuality", "shame")


def make_bank(n_items: int = 30, seed: int = 1, slope_range: tuple[float, float] = (1.0, 2.5)) -> pd.DataFrame:
    """A 5-category GRM bank: slopes uniform in ``slope_range``, thresholds spread around a location."""
    rng = np.random.default_rng(seed)
    slopes = rng.uniform(*slope_range, n_items)
    location = rng.uniform(-1.0, 1.0, n_items)
    steps = np.array([-1.6, -0.6, 0.4, 1.4])
    thresholds = np.sort(location[:, None] + steps[None, :] + rng.normal(0, 0.15, (n_items, 4)), axis=1)
    return pd.DataFrame({"a": slopes, **{f"b{k + 1}": thresholds[:, k] for k in range(4)}},
                        index=[f"q{i + 1:02d}" for i in range(n_items)])


BANK = make_bank()
FACETS = {item: FACET_NAMES[i % 3] for i, item in enumerate(BANK.index)}


def answer_by(theta: float, seed: int = 0):
    """An answering respondent: draws answers from the GRM at ``theta``."""
    rng = np.random.default_rng(seed)

    def answer(item: str) -> int:
        row = BANK.loc[item]
        at_least = 1 / (1 + np.exp(-row["a"] * (theta - row[["b1", "b2", "b3", "b4"]].to_numpy(float))))
        return int((rng.random() < at_least).sum())

    return answer


def run_session(session: CATSession, answer, seed: int = 0) -> CATState:
    state = session.start(seed=seed)
    while (item := session.next_item(state)) is not None:
        state = session.update(state, item, answer(item))
    return state


# --------------------------------------------------------------------------------------------
# Stopping
# --------------------------------------------------------------------------------------------


def test_max_items_stops_a_test_that_never_reaches_its_se() -> None:
    session = CATSession(BANK, se_target=0.01, max_items=9)
    state = run_session(session, answer_by(0.5))
    assert len(state.items) == 9
    assert session.stop_reason(state) == "max_items"
    assert session.estimate(state).se > 0.01


def test_min_items_holds_a_test_whose_se_is_met_at_once() -> None:
    session = CATSession(BANK, se_target=5.0, min_items=6)
    state = run_session(session, answer_by(-0.3))
    assert len(state.items) == 6
    assert session.stop_reason(state) == "se_target"


def test_se_rule_stops_at_the_first_precise_enough_estimate() -> None:
    session = CATSession(BANK)  # PROMIS defaults: SE < 0.3, 4 to 12 items
    assert (session.rules.se_target, session.rules.min_items, session.rules.max_items) == (0.3, 4, 12)
    for theta, seed in [(-1.0, 1), (0.0, 2), (1.2, 3)]:
        state = run_session(session, answer_by(theta, seed))
        estimate = session.estimate(state)
        assert 4 <= estimate.n_items <= 12
        if estimate.stop_reason == "se_target":
            assert estimate.se < 0.3
            shorter = CATState(state.items[:-1], state.answers[:-1], state.seed)
            assert len(shorter.items) < 4 or session.estimate(shorter).se >= 0.3
        else:
            assert estimate.stop_reason == "max_items" and estimate.n_items == 12


def test_a_small_bank_is_used_up() -> None:
    session = CATSession(BANK.iloc[:5], se_target=0.01)
    state = run_session(session, answer_by(0.0))
    assert sorted(state.items) == sorted(BANK.index[:5])
    assert session.stop_reason(state) == "bank_exhausted"
    assert session.next_item(state) is None


# --------------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------------


def test_first_item_is_the_most_informative_at_the_start_theta() -> None:
    session = CATSession(BANK)
    assert session.next_item(session.start(seed=0)) == item_information(BANK, 0.0).iloc[0].idxmax()
    high = CATSession(BANK, start_theta=1.5)
    assert high.next_item(high.start(seed=0)) == item_information(BANK, 1.5).iloc[0].idxmax()
    stated = CATSession(BANK, start_item="q17")
    assert stated.next_item(stated.start(seed=0)) == "q17"


def test_next_item_maximizes_information_at_the_current_eap() -> None:
    session = CATSession(BANK)
    state = session.start(seed=0)
    for item, answer in [("q05", 4), ("q11", 3), ("q20", 4)]:
        state = session.update(state, item, answer)
    theta = session.estimate(state).theta
    information = item_information(BANK, theta).iloc[0].drop(["q05", "q11", "q20"])
    assert session.next_item(state) == information.idxmax()


def test_mpwi_weights_information_by_the_posterior() -> None:
    session = CATSession(BANK, selection="MPWI")
    state = session.update(session.update(session.start(seed=0), "q01", 0), "q02", 1)
    answers = pd.DataFrame({"q01": [0], "q02": [1]})
    nodes, weights = quadrature()
    likelihood = np.ones(len(nodes))
    for item, answer in [("q01", 0), ("q02", 1)]:
        likelihood *= category_probabilities(BANK.loc[[item]], nodes)[item].iloc[:, answer].to_numpy()
    posterior = likelihood * weights / np.sum(likelihood * weights)
    weighted = (item_information(BANK, nodes).mul(posterior, axis=0)).sum().drop(["q01", "q02"])
    assert session.next_item(state) == weighted.idxmax()
    assert session.estimate(state).theta == pytest.approx(eap_scores(BANK, answers)["theta"].iloc[0])


def test_estimate_is_the_eap_of_the_answered_items() -> None:
    session = CATSession(BANK, first_category=1)
    state = run_session(session, lambda item: answer_by(0.7)(item) + 1, seed=4)
    answers = pd.DataFrame([dict(zip(state.items, state.answers, strict=True))])
    expected = eap_scores(BANK, answers, first_category=1).iloc[0]
    estimate = session.estimate(state)
    assert estimate.theta == pytest.approx(expected["theta"])
    assert estimate.se == pytest.approx(expected["se"])
    assert estimate.t_score == pytest.approx(50 + 10 * expected["theta"])


# --------------------------------------------------------------------------------------------
# Content balancing
# --------------------------------------------------------------------------------------------


def test_every_facet_is_asked_before_any_is_repeated() -> None:
    # Make the shame items the least informative, so information alone would skip them.
    bank = BANK.copy()
    shame = [item for item, facet in FACETS.items() if facet == "shame"]
    bank.loc[shame, "a"] = 0.5
    plain = simulate_cat(bank, n=200, seed=5)
    balanced = simulate_cat(bank, n=200, seed=5, facets=FACETS)
    first_three_plain = plain.respondents["items"].str.split().str[:3]
    assert not all({FACETS[i] for i in items} == set(FACET_NAMES) for items in first_three_plain)
    for items in balanced.respondents["items"].str.split():
        assert {FACETS[i] for i in items[:3]} == set(FACET_NAMES)
        counts = Counter(FACETS[i] for i in items)
        # Equal targets: the facet counts never differ by more than one.
        assert max(counts.values()) - min(counts.get(f, 0) for f in FACET_NAMES) <= 1


def test_facet_targets_set_the_shares() -> None:
    targets = {"connection": 0.5, "mutuality": 0.25, "shame": 0.25}
    session = CATSession(BANK, facets=FACETS, facet_targets=targets, se_target=0.01, max_items=8)
    state = run_session(session, answer_by(0.2))
    counts = Counter(FACETS[i] for i in state.items)
    assert counts == {"connection": 4, "mutuality": 2, "shame": 2}
    assert {FACETS[i] for i in state.items[:3]} == set(FACET_NAMES)


def test_facet_settings_are_checked() -> None:
    with pytest.raises(AnalysisError, match="have no facet"):
        CATSession(BANK, facets={"q01": "connection"})
    with pytest.raises(AnalysisError, match="facet_targets names facet"):
        CATSession(BANK, facets=FACETS, facet_targets={"guilt": 1.0})
    with pytest.raises(AnalysisError, match="start_item 'zz'"):
        CATSession(BANK, start_item="zz")
    with pytest.raises(AnalysisError, match="min_items <= max_items"):
        CATRules(min_items=5, max_items=4)


# --------------------------------------------------------------------------------------------
# Exposure control
# --------------------------------------------------------------------------------------------


def test_randomesque_is_reproducible_and_spreads_exposure() -> None:
    best_only = simulate_cat(BANK, n=400, seed=8)
    spread = simulate_cat(BANK, n=400, seed=8, randomesque=5)
    again = simulate_cat(BANK, n=400, seed=8, randomesque=5)
    other = simulate_cat(BANK, n=400, seed=9, randomesque=5)
    pd.testing.assert_frame_equal(spread.respondents, again.respondents)
    assert not spread.respondents["items"].equals(other.respondents["items"])
    first_best = best_only.respondents["items"].str.split().str[0]
    first_spread = spread.respondents["items"].str.split().str[0]
    assert first_best.nunique() == 1  # without exposure control everyone starts alike
    top_five = item_information(BANK, 0.0).iloc[0].nlargest(5).index
    assert set(first_spread) == set(top_five)
    assert first_spread.value_counts().max() < 0.35 * len(first_spread)
    assert spread.exposure["rate"].max() < best_only.exposure["rate"].max()
    assert (spread.exposure["rate"] > 0).sum() > (best_only.exposure["rate"] > 0).sum()


# --------------------------------------------------------------------------------------------
# Sessions and their state
# --------------------------------------------------------------------------------------------


def test_a_resumed_state_gives_the_same_next_item() -> None:
    session = CATSession(BANK, facets=FACETS, randomesque=4)
    answer = answer_by(-0.4, seed=6)
    state = session.start(seed=123)
    while (item := session.next_item(state)) is not None:
        stored = json.dumps(state.to_dict())
        resumed = CATState.from_dict(json.loads(stored))
        assert resumed == state
        assert CATSession(BANK, facets=FACETS, randomesque=4).next_item(resumed) == item
        assert session.next_item(state) == item  # asking twice changes nothing
        state = session.update(state, item, answer(item))
    assert session.should_stop(state)


def test_the_simulation_runs_the_session_engine() -> None:
    result = simulate_cat(BANK, n=30, seed=3, facets=FACETS, randomesque=3)
    session = CATSession(BANK, facets=FACETS, randomesque=3)
    for _, row in result.respondents.iloc[:10].iterrows():
        state = session.start(seed=int(row["session_seed"]))
        for item, answer in zip(row["items"].split(), row["answers"].split(), strict=True):
            assert session.next_item(state) == item
            state = session.update(state, item, float(answer))
        assert session.should_stop(state)
        assert session.estimate(state).theta == pytest.approx(row["cat_theta"])
        assert session.stop_reason(state) == row["stop_reason"]


def test_declined_items_are_not_asked_again_nor_scored() -> None:
    session = CATSession(BANK)
    state = session.start(seed=0)
    first = session.next_item(state)
    state = session.update(state, first, None)
    assert session.next_item(state) != first
    estimate = session.estimate(state)
    assert (estimate.n_items, estimate.n_answered) == (1, 0)
    assert estimate.theta == pytest.approx(0.0, abs=1e-12)


def test_a_session_on_a_fitted_model_takes_the_answers_as_given() -> None:
    likert = pd.read_csv(REFERENCE / "likert1500.csv").iloc[:, :6]  # answers 1 .. 5
    fit = graded_response_model(likert)
    session = CATSession(fit, min_items=2, max_items=3)
    state = session.start(seed=0)
    state = session.update(state, session.next_item(state), 5)
    with pytest.raises(AnalysisError, match=r"answer 0 is not one of its categories \(1, 2, 3, 4, 5\)"):
        session.update(state, session.next_item(state), 0)
    row = likert.iloc[[0]]
    state = session.start(seed=0)
    while (item := session.next_item(state)) is not None:
        state = session.update(state, item, float(row[item].iloc[0]))
    asked = row[list(state.items)]
    assert session.estimate(state).theta == pytest.approx(fit.theta(asked)["theta"].iloc[0])


def test_bad_updates_are_refused() -> None:
    session = CATSession(BANK)
    state = session.update(session.start(seed=0), "q01", 2)
    with pytest.raises(AnalysisError, match="item 'q01' was already asked"):
        session.update(state, "q01", 3)
    with pytest.raises(AnalysisError, match="item 'nope' is not in the CAT's item bank"):
        session.update(state, "nope", 1)
    with pytest.raises(AnalysisError, match=r"item 'q02': answer 7 is not one of its categories \(0, 1, 2, 3, 4\)"):
        session.update(state, "q02", 7)
    with pytest.raises(AnalysisError, match="one answer per item"):
        CATState.from_dict({"items": ["q01", "q02"], "answers": [1], "seed": 0})
    with pytest.raises(AnalysisError, match="appears twice"):
        session.next_item(CATState(("q01", "q01"), (1.0, 2.0), 0))


# --------------------------------------------------------------------------------------------
# The project's goal
# --------------------------------------------------------------------------------------------


def test_cat_on_a_30_item_bank_meets_the_goal() -> None:
    result = simulate_cat(BANK, n=1000, seed=2024)
    assert result.correlation_full_bank >= GOAL_CORRELATION_WITH_FULL_BANK
    assert result.mean_items <= GOAL_SHARE_OF_BANK * len(BANK)
    assert result.respondents["n_items"].max() <= 12
    assert result.respondents["n_items"].min() >= 4
    # Where the CAT stopped on its SE rule, it met it.
    by_se = result.respondents[result.respondents["stop_reason"] == "se_target"]
    assert (by_se["cat_se"] < 0.3).all()
    assert result.conditional["n"].sum() == 1000
    assert set(result.conditional.columns) >= {"n", "mean_items", "mean_se", "rmse_true", "rmse_full_bank", "bias"}
    json.dumps(result.to_dict())


def test_balanced_randomesque_cat_on_a_uniform_theta_grid_meets_the_goal() -> None:
    result = simulate_cat(BANK, n=600, seed=11, facets=FACETS, randomesque=3, theta="grid")
    assert result.correlation_full_bank >= GOAL_CORRELATION_WITH_FULL_BANK
    assert result.mean_items <= GOAL_SHARE_OF_BANK * len(BANK)
    assert result.respondents["true_theta"].min() == -3.0 and result.respondents["true_theta"].max() == 3.0


def test_simulation_summary_reads() -> None:
    text = str(simulate_cat(BANK, n=100, seed=1, facets=FACETS))
    assert "CAT vs full bank: r = " in text and "content-balanced" in text and "By true theta:" in text
