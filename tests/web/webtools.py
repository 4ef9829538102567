"""Helpers for the web tests: sign in, create administrations, answer forms through the pages."""

from __future__ import annotations

import os
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
POSTGRES_MISSING = "PostgreSQL not available (set RCTSCALE_TEST_POSTGRES_URL)"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def skip_or_fail(reason: str) -> None:
    """Skip locally; under CI=true a missing service is a failure, so nothing silently stops being tested."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must provide it (see .ci/services.sh)")
    pytest.skip(reason)


def new_client(app: FastAPI) -> TestClient:
    # https, so the Secure cookies the app sets by default come back as in production.
    return TestClient(app, base_url="https://testserver", follow_redirects=True)


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


def add_user(app: FastAPI, name: str, role: str) -> None:
    app.state.repository.add_user(name, role, PASSWORD)


def signed_in_client(app: FastAPI, role: str, name: str | None = None) -> TestClient:
    name = name or f"{role}-user"
    if app.state.repository.user_id_by_name(name) is None:
        add_user(app, name, role)
    staff = new_client(app)
    page = staff.get("/staff/sign-in")
    answer = staff.post("/staff/sign-in", data={"csrf_token": csrf_of(page.text), "name": name,
                                                "password": PASSWORD})
    assert answer.status_code == 200 and answer.url.path == "/staff", answer.text
    return staff


def create_administration(staff: TestClient, *, form: str = "intake", title: str = "Intake", referent: str = "",
                          mode: str = "public", labels: str = "", count: int = 1) -> tuple[int, list[str]]:
    """Create an administration through the staff page; (its id, its respondent links as paths)."""
    page = staff.get("/staff")
    answer = staff.post("/staff/administrations", data={
        "csrf_token": csrf_of(page.text), "form": form, "title": title, "referent": referent, "mode": mode,
        "labels": labels, "count": str(count), "expires_days": "14"})
    assert answer.status_code == 200, answer.text
    administration_id = int(re.search(r"/staff/administrations/(\d+)", answer.text).group(1))  # type: ignore[union-attr]
    if mode == "public":
        links = re.findall(r"https://testserver(/r/[A-Za-z0-9_-]+)", answer.text)
    else:
        links = re.findall(r"https://testserver(/i/[A-Za-z0-9_-]+)", answer.text)
    return administration_id, links


def item_ids_on(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'type="radio" id="[^"]+" name="([a-z]{3}\d\d)"', html)))


def start(respondent: TestClient, link: str):  # type: ignore[no-untyped-def]
    intro = respondent.get(link)
    assert intro.status_code == 200, intro.text
    return respondent.post(f"{link}/start", data={"csrf_token": csrf_of(intro.text), "consent": "yes"})


def answer_all(respondent: TestClient, link: str, value: str = "4"):  # type: ignore[no-untyped-def]
    """Start (or resume) and answer every page with ``value``; returns the review page."""
    page = start(respondent, link)
    while page.url.path.rsplit("/", 2)[-2] == "page":
        ids = item_ids_on(page.text)
        page = respondent.post(page.url.path, data={"csrf_token": csrf_of(page.text), "action": "next",
                                                    **{item_id: value for item_id in ids}})
        assert page.status_code == 200, page.text
    assert page.url.path.endswith("/review"), page.url
    return page
