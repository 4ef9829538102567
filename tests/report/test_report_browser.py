"""Both reports in headless Chromium: no console error, no request leaves the machine, every figure draws,
figures download as PNG and SVG, print styles apply; screenshots go to test-artifacts/.

Needs Chromium (RCTSCALE_CHROMIUM, default /usr/bin/chromium) and the playwright package: skipped
locally when either is missing, a failure under CI=true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reporttools import ARTIFACTS, write_intake_sample

import rctscale as rs
from rctscale.report.respondent import render_respondent_report, respondent_report_from_files

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


class Watched:
    """A page whose console errors and outgoing requests are recorded; requests off the machine are refused."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.remote_requests: list[str] = []
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            self.remote_requests.append(url)
            route.abort()

    def open(self, path: Path) -> Any:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")
        return self.page

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.remote_requests == [], self.remote_requests


@pytest.fixture()
def watched(browser: Any) -> Any:
    page = Watched(browser)
    yield page
    page.context.close()


def test_validation_report_in_chromium(validation_html: str, watched: Watched, tmp_path: Path) -> None:
    report = tmp_path / "validation.html"
    report.write_text(validation_html, encoding="utf-8")
    page = watched.open(report)
    plots = page.locator("div.plot")
    count = plots.count()
    assert count >= 6
    page.wait_for_function("() => Array.from(document.querySelectorAll('div.plot'))"
                           ".every(div => div.querySelector('svg.main-svg'))", timeout=30_000)
    assert page.locator("div.plot svg.main-svg").count() >= count
    # every figure offers both downloads in its modebar, and no button that uploads it anywhere
    assert page.locator('div.plot .modebar-btn[data-title="Download plot as SVG"]').count() == count
    assert page.locator('div.plot .modebar-btn[data-title="Download plot as a PNG"]').count() == count
    assert page.locator('div.plot .modebar-btn[data-title^="Share"]').count() == 0
    scree = page.locator("#plot-scree-parallel-analysis")
    scree.scroll_into_view_if_needed()
    scree.hover()
    for title, suffix in (("Download plot as SVG", ".svg"), ("Download plot as a PNG", ".png")):
        with page.expect_download() as download:
            scree.locator(f'.modebar-btn[data-title="{title}"]').click()
        assert download.value.suggested_filename == f"scree-parallel-analysis{suffix}"
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.stat().st_size > 1000
    assert "<svg" in (tmp_path / "scree-parallel-analysis.svg").read_text(encoding="utf-8")[:500]
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "validation-report.png"), full_page=True)
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('nav.toc')).display") == "none"
    assert page.evaluate("getComputedStyle(document.querySelector('.modebar-container')).display") == "none"
    page.pdf(path=str(ARTIFACTS / "validation-report.pdf"))
    assert (ARTIFACTS / "validation-report.pdf").stat().st_size > 10_000
    watched.check_clean()


def test_respondent_report_in_chromium(watched: Watched, tmp_path: Path) -> None:
    sample = tmp_path / "sample.csv"
    write_intake_sample(sample, n=60, seed=31)
    form = rs.load_form("intake")
    respondent = str(rs.read_responses(sample, form)["id"].iloc[0])
    report, _current, _previous = respondent_report_from_files(form, sample, respondent, previous=sample)
    path = tmp_path / "respondent.html"
    path.write_text(render_respondent_report(report, title=f"Score report: respondent {respondent}",
                                             facts=[("Respondent", respondent)]), encoding="utf-8")
    page = watched.open(path)
    assert page.locator("table.scores tbody tr").count() == len(form.scored_scales())
    assert "no reliable change" in page.inner_text("table.change")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "respondent-report.png"), full_page=True)
    page.emulate_media(media="print")
    page.pdf(path=str(ARTIFACTS / "respondent-report.pdf"))
    watched.check_clean()
