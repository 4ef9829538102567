"""Scoring against hand-computed cases: keying, prorating, thresholds, SEM, norms, RCI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import rctscale as rs
from rctscale.errors import ScoringError
from rctscale.scoring import build_norms, reliable_change_index, standard_error_of_measurement

ITEMS = ["mi01", "mi02", "mi03", "mi04", "mi05", "mi06"]


def frame(*rows: list[float | None]) -> pd.DataFrame:
    data = pd.DataFrame([[np.nan if v is None else v for v in row] for row in rows], columns=ITEMS, dtype=float)
    data.insert(0, "id", [f"r{i + 1}" for i in range(len(rows))])
    return data


def test_reverse_keys_and_sums(mini_form: rs.Form) -> None:
    # mi03 and mi06 are reverse-keyed: 1 -> 5, 2 -> 4 on a 1..5 scale.
    scores = rs.score(mini_form, frame([5, 4, 1, 2, 3, 2]))
    # keyed answers: 5, 4, 5, 2, 3, 4 -> sum 23, mean 23/6
    assert scores.loc[0, "total_sum"] == 23
    assert scores.loc[0, "total_mean"] == pytest.approx(23 / 6)
    assert scores.loc[0, "total_n_answered"] == 6
    assert not scores.loc[0, "total_prorated"]
    # facet scales come from the bank's facets within the scale
    assert scores.loc[0, "total.near_sum"] == 14
    assert scores.loc[0, "total.far_sum"] == 9
    assert scores.loc[0, "id"] == "r1"


def test_prorating_above_the_threshold(mini_form: rs.Form) -> None:
    # one of six missing: 5/6 = 83 % >= 80 %, so the mean of the five answered is scaled to six items
    scores = rs.score(mini_form, frame([5, 4, None, 2, 3, 2]))
    keyed_answered = [5, 4, 2, 3, 4]
    assert scores.loc[0, "total_n_answered"] == 5
    assert bool(scores.loc[0, "total_prorated"])
    assert scores.loc[0, "total_mean"] == pytest.approx(np.mean(keyed_answered))
    assert scores.loc[0, "total_sum"] == pytest.approx(6 * np.mean(keyed_answered))


def test_no_score_below_the_threshold(mini_form: rs.Form) -> None:
    # two of six missing: 4/6 = 67 % < 80 %: no total score, but the number answered is reported
    scores = rs.score(mini_form, frame([5, None, None, 2, 3, 2]))
    assert math.isnan(scores.loc[0, "total_sum"])
    assert math.isnan(scores.loc[0, "total_mean"])
    assert scores.loc[0, "total_n_answered"] == 4
    assert not scores.loc[0, "total_prorated"]
    # the 'near' scale needs 60 % of 3 items = 2 answered: mi01 alone is not enough
    assert math.isnan(scores.loc[0, "near_sum"])


def test_threshold_is_inclusive(mini_form: rs.Form) -> None:
    # 'near' has 3 items and min_answered 0.6: 2 of 3 (67 %) is enough, prorated to 3 items
    scores = rs.score(mini_form, frame([5, 4, None, 2, 3, 2]))
    assert scores.loc[0, "near_sum"] == pytest.approx(3 * 4.5)


def test_sem_from_stated_reliability_and_sample_sd(mini_form: rs.Form) -> None:
    data = frame([5, 4, 1, 2, 3, 2], [1, 2, 5, 4, 4, 5], [3, 3, 3, 3, 3, 3])
    scores = rs.score(mini_form, data)
    sd = scores["total_sum"].std(ddof=1)
    assert scores.loc[0, "total_sem"] == pytest.approx(sd * math.sqrt(1 - 0.84))
    assert scores.attrs["sem_basis"]["total"] == "sample"
    # a scale without a stated reliability has no SEM
    assert scores["near_sem"].isna().all()


def test_sem_formula() -> None:
    assert standard_error_of_measurement(10.0, 0.91) == pytest.approx(3.0)
    with pytest.raises(ScoringError):
        standard_error_of_measurement(10.0, 1.2)


def test_t_scores_and_percentiles_from_a_norm_table(mini_form: rs.Form) -> None:
    # norm sample with keyed answers all 2, all 3, all 3, all 4: total sums 12, 18, 18, 24;
    # mean 18, SD sqrt((36 + 0 + 0 + 36) / 3) = sqrt(24)
    all2, all3, all4 = [2, 2, 4, 2, 2, 4], [3, 3, 3, 3, 3, 3], [4, 4, 2, 4, 4, 2]
    norms = build_norms(mini_form, frame(all2, all3, all3, all4), name="test")
    total = norms.scales["total"]
    assert total.mean == pytest.approx(18)
    assert total.sd == pytest.approx(math.sqrt(24))
    # mid-rank percentiles: 12 -> 12.5, 18 -> 50, 24 -> 87.5
    assert total.percentiles == pytest.approx((12.5, 50.0, 87.5))
    scores = rs.score(mini_form, frame(all3), norms=norms)
    assert scores.loc[0, "total_t"] == pytest.approx(50.0)
    assert scores.loc[0, "total_percentile"] == pytest.approx(50.0)
    scores = rs.score(mini_form, frame(all4), norms=norms)
    assert scores.loc[0, "total_t"] == pytest.approx(50 + 10 * 6 / math.sqrt(24))
    # between observed scores the percentile is interpolated: 21 lies half-way from 50 to 87.5
    scores = rs.score(mini_form, frame([4, 4, 2, 3, 3, 3]), norms=norms)
    assert scores.loc[0, "total_sum"] == 21
    assert scores.loc[0, "total_percentile"] == pytest.approx(68.75)
    # SEM now comes from the norm SD: sqrt(24) * sqrt(1 - .84)
    assert scores.loc[0, "total_sem"] == pytest.approx(math.sqrt(24) * 0.4)
    assert scores.attrs["sem_basis"]["total"] == "norms"


def test_norm_table_round_trip_and_hash_check(mini_form: rs.Form, mini_items, tmp_path) -> None:
    norm_sample = frame([1, 1, 5, 1, 2, 5], [3, 3, 3, 3, 4, 4], [5, 5, 1, 5, 5, 1])
    path = tmp_path / "norms.yaml"
    path.write_text(build_norms(mini_form, norm_sample, name="t").to_yaml())
    loaded = rs.load_norms(path, mini_form)
    assert loaded.scales["total"].mean == pytest.approx(build_norms(mini_form, norm_sample, name="t")
                                                          .scales["total"].mean)
    # a norm table of another form version is refused, naming both hashes
    path.write_text(path.read_text().replace(mini_form.content_hash, "sha256:old"))
    with pytest.raises(ScoringError, match="another version"):
        rs.load_norms(path, mini_form)


def test_reliable_change_index_jacobson_truax() -> None:
    # S_diff = sqrt(2 * 2^2) = 2.828; (26 - 20) / 2.828 = 2.121
    assert reliable_change_index(20, 26, 2.0) == pytest.approx(6 / math.sqrt(8))
    with pytest.raises(ScoringError):
        reliable_change_index(20, 26, 0.0)


def test_reliable_change_per_scale(mini_form: rs.Form) -> None:
    data = frame([1, 1, 5, 1, 1, 5], [5, 5, 1, 5, 5, 1], [3, 3, 3, 3, 3, 3], [3, 4, 3, 3, 3, 3])
    scores = rs.score(mini_form, data)
    change = rs.reliable_change(mini_form, scores.iloc[0], scores.iloc[1])
    sem = scores.loc[1, "total_sem"]
    assert change.loc["total", "change"] == 24
    assert change.loc["total", "rci"] == pytest.approx(24 / math.sqrt(2 * sem**2))
    assert bool(change.loc["total", "reliable"])
    assert change.loc["total", "direction"] == "increase"
    small = rs.reliable_change(mini_form, scores.iloc[2], scores.iloc[3])
    assert small.loc["total", "direction"] == "no reliable change"
    # facet scales have no stated reliability: no RCI rather than a made-up one
    assert change.loc["total.near", "direction"] == "not computable"


def test_missing_item_column_is_a_clear_error(mini_form: rs.Form) -> None:
    with pytest.raises(ScoringError, match="mi06"):
        rs.score(mini_form, frame([5, 4, 1, 2, 3, 2]).drop(columns="mi06"))
