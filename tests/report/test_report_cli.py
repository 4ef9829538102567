"""``rctscale analyze`` and ``rctscale report ...`` run as a user runs them: exit codes, messages, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from reporttools import INTAKE_PLAN, Study, line_of

from rctscale.analysis import RESULTS_SCHEMA

# Invariance and IRT are covered in-process; here the plan is kept light so each command runs fast.
LIGHT_PLAN = INTAKE_PLAN.replace("invariance: true", "invariance: false").replace("irt: true", "irt: false")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rctscale.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), cwd=cwd, timeout=600)


def light_plan(study: Study, directory: Path) -> Path:
    plan = directory / "light.yaml"
    plan.write_text(LIGHT_PLAN.replace("data: intake-sample.csv", f"data: {study.data}"), encoding="utf-8")
    return plan


def test_analyze_writes_the_results_and_report_renders_them(study: Study, tmp_path: Path) -> None:
    plan = light_plan(study, tmp_path)
    results_path = tmp_path / "out" / "results.json"
    analyzed = run("analyze", "--plan", str(plan), "--json", str(results_path))
    assert analyzed.returncode == 0, analyzed.stderr
    assert f"wrote results: {results_path}" in analyzed.stdout and "reliability" in analyzed.stdout
    results = json.loads(results_path.read_text(encoding="utf-8"))
    assert results["schema"] == RESULTS_SCHEMA and results["sample"]["n"] == 300
    assert [p.name for p in results_path.parent.iterdir()] == ["results.json"]  # no temporary file left

    report = tmp_path / "out" / "from-results.html"
    rendered = run("report", "validation", "--results", str(results_path), "--out", str(report))
    assert rendered.returncode == 0, rendered.stderr
    html = report.read_text(encoding="utf-8")
    alpha = results["reliability"]["shame"]["alpha"]
    assert f">{alpha:.3f}".replace(">0.", ">.") in html


def test_report_validation_runs_a_plan_on_given_data(study: Study, tmp_path: Path) -> None:
    plan = light_plan(study, tmp_path)
    other = tmp_path / "other.csv"
    other.write_bytes(study.data.read_bytes())
    out = tmp_path / "reports" / "study.html"
    results_path = tmp_path / "reports" / "study.json"
    made = run("report", "validation", str(other), "--plan", str(plan), "--out", str(out), "--json",
               str(results_path))
    assert made.returncode == 0, made.stderr
    assert out.exists() and f"wrote validation report: {out}" in made.stdout
    assert json.loads(results_path.read_text())["data"]["path"] == str(other)
    assert "Traceback" not in made.stderr


def test_a_plan_with_mistakes_fails_with_file_and_line_and_writes_nothing(study: Study, tmp_path: Path) -> None:
    text = (LIGHT_PLAN.replace("data: intake-sample.csv", f"data: {study.data}")
            .replace("form: intake", "form: intake\nreverse: [con03, con99]")
            .replace("  rotation: oblimin", "  rotation: obliminn"))
    plan = tmp_path / "mistakes.yaml"
    plan.write_text(text, encoding="utf-8")
    out = tmp_path / "never.json"
    failed = run("analyze", "--plan", str(plan), "--json", str(out))
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {plan}:{line_of(text, 'con99')}: reverse: unknown item 'con99'")
    assert lines[1].startswith(f"{plan}:{line_of(text, 'obliminn')}: efa: rotation: 'obliminn' is not an option")
    assert "Traceback" not in failed.stderr and not out.exists()

    column = tmp_path / "column.yaml"
    text = LIGHT_PLAN.replace("group: group", "group: cohort").replace("data: intake-sample.csv", f"data: {study.data}")
    column.write_text(text, encoding="utf-8")
    failed = run("report", "validation", "--plan", str(column), "--out", str(tmp_path / "x.html"))
    assert failed.returncode == 1
    assert f"{column}:{line_of(text, 'cohort')}: group: column 'cohort' is not in" in failed.stderr
    assert not (tmp_path / "x.html").exists()


def test_usage_mistakes(study: Study, tmp_path: Path) -> None:
    neither = run("report", "validation", "--out", str(tmp_path / "x.html"))
    assert neither.returncode == 1 and "give either --plan" in neither.stderr
    not_results = tmp_path / "not.json"
    not_results.write_text("{}")
    wrong = run("report", "validation", "--results", str(not_results), "--out", str(tmp_path / "x.html"))
    assert wrong.returncode == 1 and "not rctscale results" in wrong.stderr
    no_plan = run("analyze", str(study.data))
    assert no_plan.returncode == 1 and "--plan" in no_plan.stderr


def test_report_respondent(study: Study, tmp_path: Path) -> None:
    norms = tmp_path / "norms.yaml"
    built = run("norms", "build", str(study.data), "--form", "intake", "--out", str(norms))
    assert built.returncode == 0, built.stderr
    out = tmp_path / "respondent.html"
    made = run("report", "respondent", str(study.data), "--form", "intake", "--id", "sim00007", "--previous",
               str(study.data), "--norms", str(norms), "--out", str(out))
    assert made.returncode == 0, made.stderr
    html = out.read_text(encoding="utf-8")
    assert "Score report: respondent sim00007" in html and "Norms: intake_intake-sample" in html
    assert "no reliable change" in html and "Item responses" in html
    missing = run("report", "respondent", str(study.data), "--form", "intake", "--id", "nobody", "--out",
                  str(tmp_path / "n.html"))
    assert missing.returncode == 1 and "no respondent 'nobody' in column 'id'" in missing.stderr
    assert not (tmp_path / "n.html").exists()
