"""Item calibration: fitting per scale, the file beside the bank, the bank-hash check, IRT scores,
the commands, and the CAT goal on the three shipped banks (all on simulated samples in tmp dirs)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import rctscale as rs
from rctscale import psychometrics as pm
from rctscale.adaptive import (
    GOAL_CORRELATION_WITH_FULL_BANK,
    GOAL_SHARE_OF_BANK,
    AdaptiveRules,
    default_scale_of,
    simulate_bank_cat,
)
from rctscale.bank import load_bank, load_calibrations, read_calibration
from rctscale.bank.calibration import calibration_dir
from rctscale.calibrate import calibrate, to_calibrated_categories, write_calibrations
from rctscale.errors import BankError, CalibrationError, RctscaleError, ScoringError
from rctscale.files import file_hash

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env_items: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if env_items is not None:
        env["RCTSCALE_ITEMS"] = str(env_items)
    return subprocess.run([sys.executable, "-m", "rctscale.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def keyed(form: rs.Form, answers: pd.DataFrame) -> pd.DataFrame:
    """Reverse-keyed answers computed here from the bank's keying, not by the code under test."""
    out = answers.astype(float).copy()
    for column in out.columns:
        item = form.item(column)
        if item.reverse:
            out[column] = item.scale.minimum + item.scale.maximum - out[column]
    return out


def parameters_from_file(path: Path, scale_id: str) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """a, b1.. and categories read straight from the YAML, without the calibration classes."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = document["scales"][scale_id]["items"]
    table = pd.DataFrame({item_id: {"a": entry["a"], **{f"b{k + 1}": b for k, b in enumerate(entry["thresholds"])}}
                          for item_id, entry in items.items()}).T
    return table, {item_id: entry["categories"] for item_id, entry in items.items()}


# ---------------------------------------------------------------------- fitting and the file


def test_calibration_file_holds_the_fit_its_provenance_and_the_bank_hash(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    sample = rs.simulate(form, n=400, seed=11)
    data = tmp_path / "intake.csv"
    sample.to_csv(data, index=False)
    run_ = calibrate(form, rs.read_responses(data, form), data=data.name, data_hash=file_hash(data),
                     source="simulated")
    written = write_calibrations(run_.calibrations, tmp_path / "calibration")
    assert sorted(p.name for p in written) == ["connection.yaml", "mutuality.yaml", "shame.yaml"]

    path = tmp_path / "calibration" / "connection.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    bank = load_bank("connection")
    assert document["bank"] == "connection" and document["bank_hash"] == bank.content_hash
    assert document["data_hash"] == file_hash(data) and document["data"] == "intake.csv"
    assert document["form"] == "intake" and document["form_hash"] == form.content_hash
    assert document["source"] == "simulated" and "SIMULATED" in path.read_text(encoding="utf-8")
    assert document["created"] == dt.date.today().isoformat()
    scale = document["scales"]["connection"]
    assert scale["n"] == 400 and list(scale["items"]) == list(form.scale("connection").items)

    # The file holds what the GRM gives on the keyed answers (reverse keying done here by hand).
    items = list(form.scale("connection").items)
    fit = pm.graded_response_model(keyed(form, sample[items]))
    assert scale["loglik"] == pytest.approx(fit.loglik, abs=1e-3)
    for item_id in items:
        entry = scale["items"][item_id]
        assert entry["a"] == pytest.approx(fit.parameters.loc[item_id, "a"], abs=1e-5)
        assert entry["thresholds"] == pytest.approx(fit.parameters.loc[item_id, ["b1", "b2", "b3", "b4"]].tolist(),
                                                    abs=1e-5)
        assert entry["a_se"] == pytest.approx(fit.standard_errors.loc[item_id, "a"], abs=1e-5)
        assert entry["thresholds_se"] == pytest.approx(
            fit.standard_errors.loc[item_id, ["b1", "b2", "b3", "b4"]].tolist(), abs=1e-5)
        assert entry["categories"] == [1, 2, 3, 4, 5]
        assert entry["a"] > 0  # keyed answers: reverse-keyed items discriminate positively too

    loaded = load_calibrations(tmp_path / "calibration", form.banks, required=True)
    assert set(loaded) == {"connection", "mutuality", "shame"}
    assert loaded["connection"].scale("connection").parameters().loc[items, "a"].tolist() == pytest.approx(
        [scale["items"][i]["a"] for i in items])


def test_guilt_markers_are_calibrated_as_their_own_scale(research_calibration: Path) -> None:
    shame = read_calibration(research_calibration / "shame.yaml")
    form = rs.load_form("research")
    assert [s.id for s in shame.scales] == ["shame", "guilt"]
    assert shame.scale("shame").item_ids == form.scale("shame").items
    assert shame.scale("guilt").item_ids == form.scale("guilt").items
    assert not set(shame.scale("shame").item_ids) & set(shame.scale("guilt").item_ids)


def test_a_calibration_of_another_bank_version_is_refused(shipped_items_copy: Path) -> None:
    form = rs.load_form("intake", items_dir=shipped_items_copy)
    run_ = calibrate(form, rs.simulate(form, n=300, seed=2), source="simulated")
    write_calibrations(run_.calibrations, calibration_dir(shipped_items_copy))
    assert load_calibrations(calibration_dir(shipped_items_copy), form.banks, required=True)

    bank_file = shipped_items_copy / "connection.yaml"
    text = bank_file.read_text(encoding="utf-8")
    assert "I give my full attention" in text
    bank_file.write_text(text.replace("I give my full attention", "I give my whole attention"), encoding="utf-8")
    changed = load_bank("connection", items_dir=shipped_items_copy)
    with pytest.raises(CalibrationError, match="another version of bank 'connection'.*recalibrate"):
        load_calibrations(calibration_dir(shipped_items_copy), [changed])
    with pytest.raises(BankError, match="calibration is for another version of bank 'connection'"):
        rs.validate_items_dir(shipped_items_copy)  # `rctscale bank validate` flags it too
    changed_form = rs.load_form("intake", items_dir=shipped_items_copy)
    with pytest.raises(RctscaleError, match="another version"):
        rs.score(changed_form, rs.simulate(changed_form, n=5, seed=1), irt=calibration_dir(shipped_items_copy))


def test_malformed_calibrations_name_the_problem(tmp_path: Path, research_calibration: Path) -> None:
    document = yaml.safe_load((research_calibration / "shame.yaml").read_text(encoding="utf-8"))
    document["scales"]["guilt"]["items"]["sha33"]["thresholds"] = [0.5, -0.5, 1.0, 2.0]
    broken = tmp_path / "shame.yaml"
    broken.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"scale 'guilt', item 'sha33': thresholds must increase"):
        read_calibration(broken)
    broken.write_text("bank: shame\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="not an item calibration"):
        read_calibration(broken)
    with pytest.raises(CalibrationError, match="not found"):
        read_calibration(tmp_path / "nothing.yaml")


def test_too_small_a_sample_is_refused() -> None:
    form = rs.load_form("intake")
    with pytest.raises(CalibrationError, match="at least 50"):
        calibrate(form, rs.simulate(form, n=30, seed=1))


# ---------------------------------------------------------------------- IRT scores


def test_score_adds_eap_theta_from_whatever_was_answered(research_calibration: Path) -> None:
    """The intake form's six connection items are scored on the connection bank's calibration,
    with some answers missing; the result must be pm.eap_scores on the keyed answers."""
    form = rs.load_form("intake")
    answers = rs.simulate(form, n=40, seed=5, missing_rate=0.25)
    answers.loc[0, list(form.scale("shame").items)] = np.nan  # nothing answered on one scale
    scores = rs.score(form, answers, irt=research_calibration)

    for scale in form.scales:
        bank_scale = scale.id  # the research form's scale of the same bank
        table, categories = parameters_from_file(research_calibration / f"{form.item(scale.items[0]).bank}.yaml",
                                                 bank_scale)
        assert all(categories[i] == [1, 2, 3, 4, 5] for i in scale.items)
        expected = pm.eap_scores(table.loc[list(scale.items)], keyed(form, answers[list(scale.items)]),
                                 first_category=1)
        answered = answers[list(scale.items)].notna().any(axis=1)
        np.testing.assert_allclose(scores.loc[answered, f"{scale.id}_theta"], expected.loc[answered, "theta"],
                                   atol=1e-12)
        np.testing.assert_allclose(scores.loc[answered, f"{scale.id}_theta_se"], expected.loc[answered, "se"],
                                   atol=1e-12)
        np.testing.assert_allclose(scores.loc[answered, f"{scale.id}_irt_t"], 50 + 10 * expected.loc[answered, "theta"],
                                   atol=1e-10)
        assert scores.loc[~answered, f"{scale.id}_theta"].isna().all()
    assert pd.isna(scores.loc[0, "shame_theta"]) and pd.notna(scores.loc[0, "connection_theta"])
    assert scores.attrs["irt"]["shame"] == {"bank": "shame", "calibrated_scale": "shame", "source": "simulated"}
    # Theta and the sum score measure the same thing.
    complete = scores["connection_sum"].notna()
    assert np.corrcoef(scores.loc[complete, "connection_theta"], scores.loc[complete, "connection_sum"])[0, 1] > 0.9


def test_a_subset_of_the_bank_agrees_with_eap_scores_on_the_calibrated_model(research_calibration: Path) -> None:
    form = rs.load_form("research")
    answers = rs.simulate(form, n=30, seed=9)
    subset = ["con03", "con17", "con22", "con40"]  # con22 and con40 are reverse-keyed
    assert any(form.item(i).reverse for i in subset)
    partial = answers.copy()
    partial.loc[:, [i for i in form.scale("connection").items if i not in subset]] = np.nan
    scores = rs.score(form, partial, irt=load_calibrations(research_calibration, form.banks))
    fit = read_calibration(research_calibration / "connection.yaml").scale("connection")
    expected = pm.eap_scores(fit.parameters(subset), keyed(form, answers[subset]), first_category=1)
    np.testing.assert_allclose(scores["connection_theta"], expected["theta"], atol=1e-12)
    assert (scores["connection_theta_se"] > 0.4).all()  # four items: far from the full bank's precision


def test_an_answer_the_calibration_never_saw_is_scored_as_the_nearest_category() -> None:
    values = np.array([1.0, 2.0, 3.0, np.nan, 5.0, 4.0])
    np.testing.assert_array_equal(to_calibrated_categories(values, (2, 3, 4)), [2, 2, 3, np.nan, 4, 4])


def test_irt_that_covers_no_scale_is_an_error(research_calibration: Path, mini_form: rs.Form) -> None:
    with pytest.raises(ScoringError, match="cover no scale of form 'mini'"):
        rs.score(mini_form, rs.simulate(mini_form, n=5, seed=1), irt=research_calibration)


# ---------------------------------------------------------------------- the project's CAT goal


@pytest.mark.parametrize("bank_id", ["connection", "mutuality", "shame"])
def test_cat_meets_the_goal_on_each_shipped_bank(research_calibration: Path, bank_id: str) -> None:
    bank = load_bank(bank_id)
    calibrated = default_scale_of(load_calibrations(research_calibration, [bank], required=True)[bank_id])
    result = simulate_bank_cat(bank, calibrated, AdaptiveRules(), n=400, seed=3)
    respondents = result.respondents
    assert respondents["n_items"].between(4, 12).all()
    stopped_early = respondents["stop_reason"] == "se_target"
    assert (respondents.loc[stopped_early, "cat_se"] < 0.3).all()
    correlation = np.corrcoef(respondents["cat_theta"], respondents["full_theta"])[0, 1]
    assert correlation == pytest.approx(result.correlation_full_bank)
    assert correlation >= GOAL_CORRELATION_WITH_FULL_BANK
    assert respondents["n_items"].mean() <= GOAL_SHARE_OF_BANK * len(calibrated.items)
    # Content balancing: the first items of every session cover distinct facets.
    facets = {item.id: item.facet for item in bank.items}
    n_facets = len({facets[i] for i in calibrated.item_ids})
    first = respondents["items"].str.split().map(lambda ids: [facets[i] for i in ids[:min(n_facets, len(ids))]])
    assert first.map(lambda f: len(set(f)) == len(f)).all()


# ---------------------------------------------------------------------- the commands


def simulated_csv(items_dir: Path, path: Path, n: int, seed: int = 4) -> Path:
    form = rs.load_form("mini", items_dir=items_dir)
    rs.simulate(form, n=n, seed=seed).to_csv(path, index=False)
    return path


def test_calibrate_command_writes_beside_the_bank_and_score_uses_it(tmp_path: Path, mini_items: Path) -> None:
    data = simulated_csv(mini_items, tmp_path / "mini.csv", n=300)
    result = run("calibrate", str(data), "--form", "mini", "--simulated", env_items=mini_items)
    assert result.returncode == 0, result.stderr
    assert "wrote calibration of bank 'mini'" in result.stdout and "simulated" in result.stdout
    assert "fewer than 500" in result.stderr  # the small-sample note
    written = mini_items / "calibration" / "mini.yaml"  # without --out: beside the banks
    document = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert document["data_hash"] == file_hash(data) and document["source"] == "simulated"
    assert document["bank_hash"] == load_bank("mini", items_dir=mini_items).content_hash
    assert set(document["scales"]) == {"total", "near"}
    entry = document["scales"]["total"]["items"]["mi03"]
    assert set(entry) == {"a", "a_se", "thresholds", "thresholds_se", "categories"}
    assert rs.validate_items_dir(mini_items) is not None  # the calibration folder is not taken for a bank

    scores_path = tmp_path / "scores.csv"
    result = run("score", "mini", str(data), "--irt", str(written.parent), "--out", str(scores_path),
                 env_items=mini_items)
    assert result.returncode == 0, result.stderr
    scores = pd.read_csv(scores_path)
    assert {"total_theta", "total_theta_se", "total_irt_t", "near_theta"} <= set(scores.columns)
    assert "total.near_theta" not in scores.columns  # facet subscales are not traits of their own


def test_calibrate_command_errors_are_one_line(tmp_path: Path, mini_items: Path) -> None:
    data = simulated_csv(mini_items, tmp_path / "few.csv", n=20)
    result = run("calibrate", str(data), "--form", "mini", "--out", str(tmp_path / "c"), env_items=mini_items)
    assert result.returncode == 1 and "at least 50" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "c").exists()


def test_cat_simulate_command(tmp_path: Path, mini_items: Path) -> None:
    figures = tmp_path / "mini.json"
    result = run("cat", "simulate", "--bank", "mini", "--form", "mini", "--n", "200", "--json", str(figures),
                 "--min-items", "2", "--max-items", "3", "--seed", "5", env_items=mini_items)
    assert result.returncode == 0, result.stderr
    assert "no --calibration given: calibrated bank 'mini'" in result.stdout
    summary = json.loads(figures.read_text(encoding="utf-8"))
    assert summary["calibration"]["source"] == "simulated" and summary["bank_size"] == 6
    assert summary["n"] == 200 and 2 <= summary["mean_items"] <= 3
    assert {"correlation_full_bank", "rmse_full_bank", "mean_se", "goal"} <= set(summary)
    assert [row["theta_bin"] for row in summary["conditional"]][0] == "(-inf, -2.0]"
    assert sum(row["n"] for row in summary["conditional"]) == 200
    assert all({"mean_se", "mean_items", "rmse_true"} <= set(row) for row in summary["conditional"])

    data = simulated_csv(mini_items, tmp_path / "mini.csv", n=300)
    form = rs.load_form("mini", items_dir=mini_items)
    write_calibrations(calibrate(form, rs.read_responses(data, form), data=data.name).calibrations, tmp_path / "cal")
    result = run("cat", "simulate", "--bank", "mini", "--n", "100", "--json", str(figures), "--calibration",
                 str(tmp_path / "cal" / "mini.yaml"), env_items=mini_items)
    assert result.returncode == 0, result.stderr
    summary = json.loads(figures.read_text(encoding="utf-8"))
    assert summary["calibration"]["source"] == "data" and summary["calibration"]["data"] == "mini.csv"
