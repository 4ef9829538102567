"""Analysis plans: the shipped plan loads; every kind of mistake names the file and the line."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from reporttools import INTAKE_PLAN, ROOT, Study, line_of

from rctscale.analysis import analyze_file
from rctscale.errors import PlanError, RctscaleError
from rctscale.plan import load_plan, shipped_plan_path


def write_plan(directory: Path, text: str, name: str = "plan.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> str:
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert isinstance(caught.value, RctscaleError)
    return str(caught.value)


def test_the_shipped_plan_loads_with_the_forms_scales_and_keys() -> None:
    path = shipped_plan_path("rct_validation")
    assert path == ROOT / "analysis" / "rct_validation.yaml"
    plan = load_plan(path)
    assert plan.form.id == "research"
    assert [s.id for s in plan.scales] == ["connection", "mutuality", "shame", "guilt"]
    assert plan.reverse == tuple(plan.form.reverse_keyed())
    assert plan.data == ROOT / "reports" / "demo-research-sample.csv"
    assert plan.group == "group" and plan.invariance and plan.irt and plan.bootstrap == 200
    assert plan.cfa.model is None and plan.cfa.estimator == "ML"
    settings = plan.settings()
    assert settings["efa"] == {"n_factors": "parallel", "method": "minres", "rotation": "oblimin", "corr": "pearson"}
    assert settings["cfa"]["model"] == "from_form"


def test_defaults_of_a_minimal_plan(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, "form: intake\n"))
    assert plan.name == "plan" and plan.group is None and not plan.invariance
    assert plan.statistics_missing == "pairwise" and plan.cfa_missing == "listwise"
    assert plan.bootstrap == 0 and plan.seed == 0 and plan.efa.n_factors == "parallel"
    assert len(plan.item_ids) == 18


def test_unknown_item_in_reverse_is_reported_at_its_own_line(tmp_path: Path) -> None:
    text = "form: intake\nreverse:\n  - con31\n  - con99\n"
    message = problems(write_plan(tmp_path, text))
    assert message.startswith(f"{tmp_path / 'plan.yaml'}:4: reverse: unknown item 'con99'")
    assert "did you mean" in message


def test_unknown_item_in_a_scale_and_an_unknown_scale(tmp_path: Path) -> None:
    text = ("form: intake\nscales:\n  - connection\n  - {id: short, items: [sha01, shax7, sha10]}\n"
            "  - {id: nosuchscale}\n")
    message = problems(write_plan(tmp_path, text))
    assert f"{tmp_path / 'plan.yaml'}:4: scales: 'short': unknown item 'shax7'" in message
    assert f"{tmp_path / 'plan.yaml'}:5: scales: 'nosuchscale' is not a scale of form 'intake'" in message


def test_unknown_keys_are_reported_with_a_suggestion(tmp_path: Path) -> None:
    text = "form: intake\nbootstrp: 100\nefa:\n  rotaton: varimax\n"
    message = problems(write_plan(tmp_path, text))
    assert "plan.yaml:2: unknown key 'bootstrp' (did you mean 'bootstrap'?)" in message
    assert "plan.yaml:4: efa: unknown key 'rotaton' (did you mean 'rotation'?)" in message


@pytest.mark.parametrize(("fragment", "replacement", "expected"), [
    ("  rotation: oblimin", "  rotation: varimx", "efa: rotation: 'varimx' is not an option (did you mean 'varimax'?)"),
    ("  estimator: ML", "  estimator: MLR", "cfa: estimator: 'MLR' is not an option"),
    ("  n_factors: parallel", "  n_factors: many", "efa: n_factors: 'many' is not an option"),
    ("  cfa: listwise", "  cfa: pairwise", "missing: cfa: 'pairwise' is not an option"),
    ("invariance: true", "invariance: maybe", "invariance: 'maybe' is not an option"),
    ("bootstrap: 50", "bootstrap: 10", "bootstrap: 10 draws are too few"),
    ("seed: 5", "seed: -1", "seed: '-1' is not an option"),
])
def test_bad_option_values_name_the_line(tmp_path: Path, fragment: str, replacement: str, expected: str) -> None:
    text = INTAKE_PLAN.replace(fragment, replacement)
    assert text != INTAKE_PLAN
    message = problems(write_plan(tmp_path, text))
    assert f"plan.yaml:{line_of(text, replacement)}: {expected}" in message


def test_inconsistent_options_are_refused(tmp_path: Path) -> None:
    wlsmv_fiml = INTAKE_PLAN.replace("estimator: ML", "estimator: WLSMV").replace("cfa: listwise", "cfa: fiml")
    message = problems(write_plan(tmp_path, wlsmv_fiml))
    assert f":{line_of(wlsmv_fiml, 'cfa: fiml')}: missing: cfa: fiml is not available with estimator WLSMV" in message
    no_group = INTAKE_PLAN.replace("group: group\n", "")
    message = problems(write_plan(tmp_path, no_group))
    assert f":{line_of(no_group, 'invariance: true')}: invariance: true needs a grouping column" in message
    ordered_ml = INTAKE_PLAN.replace("estimator: ML", "estimator: ML\n  ordered: true")
    assert "ordered: true needs estimator: WLSMV" in problems(write_plan(tmp_path, ordered_ml))


def test_model_syntax_names_the_file_line_of_the_unknown_item(tmp_path: Path) -> None:
    text = INTAKE_PLAN.replace("  model: from_form", "  model: |\n    connection =~ con03 + con05 + con09\n"
                                                     "    shame =~ sha01 + sha07 + shaa10")
    message = problems(write_plan(tmp_path, text))
    assert f"plan.yaml:{line_of(text, 'shaa10')}: cfa: model: unknown item 'shaa10' (did you mean 'sha10'?)" in message
    broken = INTAKE_PLAN.replace("  model: from_form", "  model: |\n    connection =~ con03 + con05\n    con09 ~ con14")
    message = problems(write_plan(tmp_path, broken))
    assert re.search(rf"plan\.yaml:{line_of(broken, 'con09 ~ con14')}: cfa: model: ", message), message


def test_all_problems_are_reported_at_once_and_yaml_errors_have_lines(tmp_path: Path) -> None:
    text = "form: intake\nreverse: [con99]\nefa: {method: svd}\nirt: sometimes\n"
    message = problems(write_plan(tmp_path, text))
    assert len(message.splitlines()) == 3
    bad_yaml = write_plan(tmp_path, "form: intake\nefa:\n  method: [minres\n", "broken.yaml")
    assert re.match(rf"{re.escape(str(bad_yaml))}:\d+: YAML syntax error", problems(bad_yaml))
    assert "analysis plan not found" in problems(tmp_path / "absent.yaml")
    assert "no form named 'intak'" in problems(write_plan(tmp_path, "form: intak\n", "typo.yaml"))


def test_unknown_column_is_reported_at_the_line_of_group(study: Study, tmp_path: Path) -> None:
    text = INTAKE_PLAN.replace("group: group", "group: grp").replace("data: intake-sample.csv",
                                                                       f"data: {study.data}")
    plan = load_plan(write_plan(tmp_path, text))
    with pytest.raises(PlanError) as caught:
        analyze_file(plan)
    assert str(caught.value).startswith(f"{tmp_path / 'plan.yaml'}:{line_of(text, 'group: grp')}: group: column 'grp' "
                                        f"is not in {study.data} (did you mean 'group'?)")


def test_stated_id_column_must_exist_and_missing_data_is_named(study: Study, tmp_path: Path) -> None:
    columns = pd.read_csv(study.data, nrows=1).columns
    text = INTAKE_PLAN.replace("form: intake", "form: intake\nid_column: respondent")
    plan = load_plan(write_plan(tmp_path, text))
    with pytest.raises(PlanError, match=rf":{line_of(text, 'id_column')}: id_column: column 'respondent'"):
        plan.check_data(columns, study.data)
    with pytest.raises(PlanError, match="data: .*intake-sample.csv does not exist"):
        plan.data_path()
