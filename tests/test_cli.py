"""The rctscale command, run as a user runs it: exit codes, messages, files written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def run(*args: str, env_items: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if env_items is not None:
        env["RCTSCALE_ITEMS"] = str(env_items)
    return subprocess.run([sys.executable, "-m", "rctscale.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def test_bank_validate_on_a_broken_copy(mini_items: Path) -> None:
    ok = run("bank", "validate", str(mini_items))
    assert ok.returncode == 0, ok.stderr
    assert "1 banks and 1 forms are valid" in ok.stdout
    bank = mini_items / "mini.yaml"
    bank.write_text(bank.read_text().replace("facet: far, text: \"I feel alone", "facet: farr, text: \"I feel alone"))
    broken = run("bank", "validate", str(mini_items))
    assert broken.returncode == 1
    assert f"{bank}:" in broken.stderr and "item 'mi04': unknown facet 'farr'" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_simulate_score_and_norms(tmp_path: Path, mini_items: Path) -> None:
    data = tmp_path / "sample.csv"
    result = run("simulate", "mini", "--n", "120", "--seed", "3", "--out", str(data), env_items=mini_items)
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(data)) == 120
    norms = tmp_path / "norms.yaml"
    result = run("norms", "build", str(data), "--form", "mini", "--out", str(norms), env_items=mini_items)
    assert result.returncode == 0, result.stderr
    assert "n = 120" in result.stdout
    scores = tmp_path / "scores.csv"
    result = run("score", "mini", str(data), "--norms", str(norms), "--out", str(scores), env_items=mini_items)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(scores)
    assert len(table) == 120
    # a norm sample scored on its own norms has mean T = 50
    assert table["total_t"].mean() == pytest.approx(50.0, abs=1e-6)


def test_bad_value_gives_one_line_error_and_writes_nothing(tmp_path: Path, mini_items: Path) -> None:
    (tmp_path / "work").mkdir()
    data = tmp_path / "work" / "bad.csv"
    data.write_text("id,mi01,mi02,mi03,mi04,mi05,mi06\np1,1,2,3,4,5,1\np2,1,2,3,6,5,1\n")
    out = tmp_path / "work" / "scores.csv"
    result = run("score", "mini", str(data), "--out", str(out), env_items=mini_items)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "line 3, column 'mi04'" in lines[0] and "Traceback" not in result.stderr
    assert not out.exists()
    assert list(data.parent.iterdir()) == [data]
    blanked = run("score", "mini", str(data), "--out", str(out), "--invalid", "missing", env_items=mini_items)
    assert blanked.returncode == 0, blanked.stderr
    assert "1 invalid answer(s) were treated as not answered" in blanked.stderr


def test_unknown_form_and_usage_errors(tmp_path: Path) -> None:
    result = run("score", "nosuchform", str(tmp_path / "x.csv"), "--out", str(tmp_path / "o.csv"))
    assert result.returncode == 1 and "no form named 'nosuchform'" in result.stderr
    usage = run("simulate")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_shipped_banks_validate_and_show() -> None:
    result = run("bank", "validate")
    assert result.returncode == 0, result.stderr
    assert "3 banks and 2 forms are valid" in result.stdout
    shown = run("bank", "show", "mutuality")
    assert shown.returncode == 0, shown.stderr
    assert "content hash: sha256:" in shown.stdout


def test_demo_writes_report_and_results(tmp_path: Path) -> None:
    result = run("demo", "--no-serve", "--n", "300", "--out-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    report = tmp_path / "reports" / "demo-validation.html"
    assert report.exists() and (tmp_path / "reports" / "demo-results.json").exists()
    html = report.read_text()
    assert "Reliability" in html and "http://" not in html.split("<body>")[1].split("<details>")[0]
    assert str(report) in result.stdout
