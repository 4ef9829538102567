"""Fixtures for the report tests: a small intake study (data, plan), its results, its report, Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reporttools import CHROMIUM, CHROMIUM_ARGS, INTAKE_PLAN, Study, skip_or_fail, write_intake_sample


@pytest.fixture(scope="session")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    directory = tmp_path_factory.mktemp("study")
    write_intake_sample(directory / "intake-sample.csv")
    (directory / "intake_test.yaml").write_text(INTAKE_PLAN, encoding="utf-8")
    return Study(directory, directory / "intake-sample.csv", directory / "intake_test.yaml")


@pytest.fixture(scope="session")
def results(study: Study) -> dict[str, Any]:
    """The study's results as a reader of the JSON file gets them (NaN-free, string keys)."""
    from rctscale.analysis import analyze_file
    from rctscale.plan import load_plan

    computed = analyze_file(load_plan(study.plan))
    return json.loads(json.dumps(computed, allow_nan=False))


@pytest.fixture(scope="session")
def validation_html(results: dict[str, Any]) -> str:
    from rctscale.report.validation import render_validation_report

    return render_validation_report(results)


# Module scope, not session: a sync Playwright left running would stop the web tests from starting theirs.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set RCTSCALE_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
