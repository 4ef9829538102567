"""Attacks on the app: CSRF, link guessing and reuse, XSS, SQL injection, oversized bodies, roles, headers, logs."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from webtools import (
    PASSWORD,
    answer_all,
    create_administration,
    csrf_of,
    item_ids_on,
    new_client,
    signed_in_client,
    start,
)

from rctscale.store import new_token

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_security_headers_on_every_kind_of_page(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/staff/sign-in", "/thanks", "/i/nothing", "/healthz", "/static/rctscale.css", "/no/such/page/x"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == ("default-src 'self'; frame-ancestors 'none'; "
                                                      "form-action 'self'; base-uri 'none'"), path
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
    assert client.get("/thanks").headers["cache-control"] == "no-store"


def test_pages_load_nothing_from_elsewhere_and_have_no_inline_script(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff)
    for html in (client.get(link).text, start(client, link).text, client.get("/staff/sign-in").text,
                 staff.get("/staff").text):
        assert "<script" not in html and "style=" not in html and "<style" not in html
        assert "http://" not in html and "//" not in html.replace("https://testserver", "")


def test_staff_posts_need_the_session_csrf_token(app: FastAPI) -> None:
    admin = signed_in_client(app, "admin")
    data = {"form": "intake", "title": "T", "mode": "public"}
    assert admin.post("/staff/administrations", data=data).status_code == 403
    assert admin.post("/staff/administrations", data={**data, "csrf_token": "wrong"}).status_code == 403
    other = signed_in_client(app, "clinician")  # a valid token of another session is still wrong here
    other_token = csrf_of(other.get("/staff").text)
    assert admin.post("/staff/administrations", data={**data, "csrf_token": other_token}).status_code == 403
    assert app.state.repository.count_administrations() == 0
    assert admin.post("/staff/sign-out", data={}).status_code == 403


def test_sign_in_and_start_need_the_double_submit_token(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    app.state.repository.add_user("ann", "admin", PASSWORD)
    client.get("/staff/sign-in")
    assert client.post("/staff/sign-in", data={"name": "ann", "password": PASSWORD}).status_code == 403
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff)
    client.get(link)
    assert client.post(f"{link}/start", data={"consent": "yes", "csrf_token": "x" * 32}).status_code == 403
    assert app.state.repository.count_responses() == 0


def test_respondent_page_posts_need_the_response_nonce(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff, mode="invitations", count=1)
    page = start(client, link)
    first = item_ids_on(page.text)[0]
    for token in (None, "", "guess"):
        data = {first: "3", **({"csrf_token": token} if token is not None else {})}
        assert client.post(page.url.path, data=data).status_code == 403
    assert client.post(f"{link}/submit", data={"csrf_token": "guess"}).status_code == 404
    assert app.state.repository.responses(_id)[0].answers == {}
    assert app.state.repository.count_responses(status="submitted") == 0


def test_wrong_used_expired_and_closed_links_look_the_same(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "clinician")
    administration_id, links = create_administration(staff, mode="invitations", count=3)
    used, expired_soon, revoked = links
    review = answer_all(new_client(app), used)
    new_client(app).post(f"{used}/submit", data={"csrf_token": csrf_of(review.text)})
    store = app.state.repository
    import datetime as dt

    [(_invitation, expired_token)] = store.add_invitations(administration_id, [None], expires_in=dt.timedelta(-1))
    store.revoke_invitation(store.invitations(administration_id)[2].invitation.id)
    public_id, [public] = create_administration(staff)
    store.close_administration(public_id)
    pages = [client.get(path) for path in (used, f"/i/{expired_token}", revoked, public, f"/i/{new_token()}",
                                           "/i/" + "A" * 300, "/r/nope", f"{used}/page/1", f"{used}/review")]
    assert {p.status_code for p in pages} == {404}
    assert len({p.text for p in pages}) == 1
    del expired_soon


def test_guessing_links_is_rate_limited(sqlite_url: str) -> None:
    from rctscale.store import upgrade_database
    from rctscale.web import create_app

    upgrade_database(sqlite_url)
    app = create_app(sqlite_url, token_failures=5)
    guesser = new_client(app)
    codes = [guesser.get(f"/i/{new_token()}").status_code for _ in range(7)]
    assert codes[:5] == [404] * 5 and codes[5:] == [429, 429]


def test_sign_in_is_rate_limited_per_name(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    app.state.repository.add_user("ann", "admin", PASSWORD)
    token = csrf_of(client.get("/staff/sign-in").text)
    codes = [client.post("/staff/sign-in", data={"csrf_token": token, "name": "ann", "password": f"guess{i}"})
             .status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    # even the right password waits out the window now
    assert client.post("/staff/sign-in", data={"csrf_token": token, "name": "ann", "password": PASSWORD}
                       ).status_code == 429


def test_xss_in_titles_referents_labels_and_answers_is_escaped(app: FastAPI) -> None:
    clinician = signed_in_client(app, "clinician")
    administration_id, [link] = create_administration(clinician, mode="invitations", title=XSS, referent=XSS,
                                                       labels=XSS)
    respondent = new_client(app)
    page = start(respondent, link)
    bad_answer = respondent.post(page.url.path, data={"csrf_token": csrf_of(page.text), XSS: XSS})
    assert bad_answer.status_code == 400
    review = answer_all(respondent, link)
    respondent.post(f"{link}/submit", data={"csrf_token": csrf_of(review.text)})
    staff_paths = ["/staff", f"/staff/administrations/{administration_id}",
                   f"/staff/administrations/{administration_id}/responses", "/staff/responses/1"]
    pages = [page, bad_answer, review, *(clinician.get(path) for path in staff_paths)]
    for shown in pages:
        assert "<script>alert" not in shown.text and "<img src=x" not in shown.text
    assert "&lt;script&gt;" in pages[-1].text


@pytest.mark.parametrize("path", [
    "/staff/responses/1%20OR%201=1", "/staff/responses/1;DROP%20TABLE%20responses",
    "/staff/administrations/1'--/responses", "/staff/administrations/-1%20UNION%20SELECT%201/export.csv",
    "/i/'%20OR%20'1'='1", "/r/x'%3B%20DELETE%20FROM%20answers%3B--",
])
def test_sql_injection_in_ids_is_refused(app: FastAPI, path: str) -> None:
    clinician = signed_in_client(app, "clinician")
    _id, [link] = create_administration(clinician, mode="invitations", count=1)
    answer = clinician.get(path)
    assert answer.status_code in (400, 404)
    assert app.state.repository.count_administrations() == 1
    assert new_client(app).get(link).status_code == 200


def test_oversized_bodies_are_refused(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff)
    page = start(client, link)
    big = {"csrf_token": csrf_of(page.text), "con03": "1" + " " * 70_000}
    assert client.post(page.url.path, data=big).status_code == 413

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 8192

    streamed = client.post(page.url.path, content=chunks(),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert streamed.status_code == 413
    assert app.state.repository.responses(_id)[0].answers == {}


def test_no_identifiers_in_logs_or_audit_detail(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clinician = signed_in_client(app, "clinician", name="dr-who")
    administration_id, [link] = create_administration(clinician, mode="invitations", labels="Jane Patient")
    review = answer_all(new_client(app), link)
    new_client(app).post(f"{link}/submit", data={"csrf_token": csrf_of(review.text)})
    clinician.get(f"/staff/administrations/{administration_id}/responses")
    clinician.get(f"/staff/administrations/{administration_id}/export.csv?identified=1")
    token = link.rsplit("/", 1)[1]
    # The app's own loggers and the server's (the test client's httpx logs its own requests).
    app_log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("rctscale", "uvicorn")))
    assert "submitted" in app_log
    for secret in ("Jane Patient", token, "dr-who", PASSWORD):
        assert secret not in app_log
        for entry in app.state.repository.audit_entries():
            assert secret not in (entry.detail or "") and secret not in entry.action
