"""Headless Chromium against a real uvicorn server: keyboard-only filling, save and resume, axe-core WCAG 2.1 AA.

Needs Chromium (RCTSCALE_CHROMIUM, default /usr/bin/chromium), the ``playwright`` package and
axe-core's axe.min.js (RCTSCALE_AXE_JS; .ci/services.sh installs it). Skipped locally when one
is missing; a failure under CI=true.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from webtools import skip_or_fail

from rctscale.adaptive import AdaptiveRules, administration_settings
from rctscale.bank import load_calibrations, load_form
from rctscale.store import Repository, make_engine, upgrade_database

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("RCTSCALE_CHROMIUM", "/usr/bin/chromium")
AXE_JS = Path(os.environ.get("RCTSCALE_AXE_JS", ROOT / ".cache/axe/node_modules/axe-core/axe.min.js"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A uvicorn server on a free loopback port over a fresh SQLite file; (base URL, database URL)."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set RCTSCALE_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright package is not installed (pip install playwright)")
    database_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'browser.db'}"
    upgrade_database(database_url)
    port = free_port()
    env = {**os.environ, "RCTSCALE_DATABASE_URL": database_url, "RCTSCALE_INSECURE_COOKIES": "1"}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "rctscale.web.app:create_app", "--factory",
                                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                                "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the uvicorn server did not start")
        yield base, database_url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(server: tuple[str, str]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _public_link(database_url: str, referent: str | None = None) -> str:
    store = Repository(make_engine(database_url))
    form = load_form("intake")
    administration = store.create_administration(form_id="intake", form_hash=form.content_hash, title="Intake",
                                                 referent=referent, mode="public")
    store.engine.dispose()
    return f"/r/{administration.public_key}"


def _answers(database_url: str) -> list[dict]:
    store = Repository(make_engine(database_url))
    try:
        return [entry.answers for summary in store.administrations()
                for entry in store.responses(summary.administration.id, submitted_only=True)]
    finally:
        store.engine.dispose()


def _tab_to(page, selector: str, limit: int = 80) -> None:  # type: ignore[no-untyped-def]
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_fill_and_submit_by_keyboard_only(server: tuple[str, str], browser) -> None:  # type: ignore[no-untyped-def]
    base, database_url = server
    link = _public_link(database_url)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(base + link)
    _tab_to(page, "#consent")
    page.keyboard.press("Space")
    _tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{link}/page/1")
    form = load_form("intake")
    for number in range(1, 4):
        assert f"Page {number} of 3" in page.inner_text("main")
        ids = [item.id for item in form.items[(number - 1) * 8:number * 8]]
        for item_id in ids:
            _tab_to(page, f'input[name="{item_id}"]')
            page.keyboard.press("Space")       # the first option, Never (1)
            page.keyboard.press("ArrowDown")   # Rarely (2): arrows move and choose within the group
        _tab_to(page, 'button[value="next"]')
        with page.expect_navigation():
            page.keyboard.press("Enter")
    page.wait_for_url(f"**{link}/review")
    assert "You have answered every statement." in page.inner_text("main")
    _tab_to(page, "form[action$='/submit'] button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/thanks")
    assert {item_id: 2 for item_id in form.item_ids} in _answers(database_url)
    # Readable at 360 px: nothing wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


def test_save_and_resume_in_the_same_browser(server: tuple[str, str], browser) -> None:  # type: ignore[no-untyped-def]
    base, database_url = server
    link = _public_link(database_url)
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + link)
    page.check("#consent")
    page.click("button[type=submit]")
    first = load_form("intake").items[0].id
    page.check(f"#{first}-declined")
    page.click('button[value="save"]')
    assert "Your answers are saved" in page.inner_text("main")
    page.goto(base + link)
    assert "Continue where I left off" in page.inner_text("main")
    page.check("#consent")
    page.click("button[type=submit]")
    assert page.is_checked(f"#{first}-declined")
    other = browser.new_context().new_page()
    other.goto(base + link)
    assert "Continue where I left off" not in other.inner_text("main")
    context.close()


def _axe_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    # Evaluated through the DevTools protocol, so the page's CSP (no inline script) stays on.
    page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;true")
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]


def test_every_respondent_page_passes_axe_wcag21_aa(server: tuple[str, str], browser) -> None:  # type: ignore[no-untyped-def]
    if not AXE_JS.exists():
        skip_or_fail(f"axe-core not found at {AXE_JS} (run .ci/services.sh or set RCTSCALE_AXE_JS)")
    base, database_url = server
    link = _public_link(database_url, referent="my therapist")
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    checked: dict[str, list[dict]] = {}

    def check(name: str) -> None:
        checked[name] = _axe_violations(page)

    page.goto(base + link)
    check("instructions and consent")
    page.click("button[type=submit]")  # without consent: the browser's own required check stops it
    page.check("#consent")
    page.click("button[type=submit]")
    check("page 1")
    page.click('button[value="next"]')
    check("page 2")
    page.click('button[value="save"]')
    check("saved")
    page.goto(f"{base}{link}/review")
    check("review")
    page.goto(f"{base}/i/not-a-real-link")
    check("link not valid")
    page.goto(f"{base}{link}/review")
    page.click("form[action$='/submit'] button")
    check("thank you")
    page.goto(f"{base}/staff/sign-in")
    check("staff sign-in")
    assert checked and all(v == [] for v in checked.values()), {k: v for k, v in checked.items() if v}


def _adaptive_public_link(database_url: str, calibration_dir: Path) -> str:
    """An adaptive intake administration (CAT per scale) on calibrations of simulated data."""
    form = load_form("intake")
    cat_rules, stored = administration_settings(form, load_calibrations(calibration_dir, form.banks, required=True),
                                                AdaptiveRules())
    store = Repository(make_engine(database_url))
    administration = store.create_administration(form_id="intake", form_hash=form.content_hash, title="Adaptive intake",
                                                 referent=None, mode="public", adaptive=True, cat_rules=cat_rules,
                                                 calibration=stored)
    store.engine.dispose()
    return f"/r/{administration.public_key}"


def test_adaptive_pages_work_by_keyboard_and_pass_axe(server: tuple[str, str], browser,  # type: ignore[no-untyped-def]
                                                     research_calibration: Path) -> None:
    if not AXE_JS.exists():
        skip_or_fail(f"axe-core not found at {AXE_JS} (run .ci/services.sh or set RCTSCALE_AXE_JS)")
    base, database_url = server
    link = _adaptive_public_link(database_url, research_calibration)
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    checked: dict[str, list[dict]] = {}
    page.goto(base + link)
    assert "one at a time" in page.inner_text("main")
    checked["adaptive instructions"] = _axe_violations(page)
    page.check("#consent")
    page.click("button[type=submit]")
    page.wait_for_url(f"**{link}/question")
    assert "Part 1 of 3: Question 1 (at most 6)" in page.inner_text("main")
    checked["adaptive question"] = _axe_violations(page)
    page.click('button[value="next"]')  # nothing chosen: the same question with an error
    assert "Choose an answer" in page.inner_text("main")
    checked["adaptive question with an error"] = _axe_violations(page)
    asked = []
    while page.url.endswith("/question"):
        item_id = page.eval_on_selector("fieldset input[type=radio]", "element => element.name")
        asked.append(item_id)
        _tab_to(page, f'input[name="{item_id}"]')
        page.keyboard.press("Space")       # Never (1)
        page.keyboard.press("ArrowDown")   # Rarely (2)
        _tab_to(page, 'button[value="next"]')
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert page.url.endswith("/review") and 12 <= len(asked) <= 18
    assert "You have answered all the questions." in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    checked["adaptive review"] = _axe_violations(page)
    page.click("form[action$='/submit'] button")
    page.wait_for_url("**/thanks")
    assert {item_id: 2 for item_id in asked} in _answers(database_url)
    assert all(v == [] for v in checked.values()), {k: v for k, v in checked.items() if v}
