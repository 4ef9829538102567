"""Staff pages: sign-in, roles, administrations, responses with scores, the report, exports, audit, CLI."""

from __future__ import annotations

import csv
import io

import typer
from fastapi import FastAPI
from typer.testing import CliRunner
from webtools import PASSWORD, answer_all, create_administration, csrf_of, new_client, signed_in_client

from rctscale.bank import load_form


def _submit(app: FastAPI, link: str, value: str) -> None:
    respondent = new_client(app)
    review = answer_all(respondent, link, value=value)
    assert respondent.post(f"{link}/submit", data={"csrf_token": csrf_of(review.text)}).url.path == "/thanks"


def test_staff_pages_need_a_session(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/staff", "/staff/administrations/1", "/staff/responses/1", "/staff/audit",
                 "/staff/administrations/1/export.csv"):
        answer = client.get(path)
        assert answer.url.path == "/staff/sign-in", path


def test_sign_in_is_audited_and_wrong_passwords_fail(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    app.state.repository.add_user("ann", "admin", PASSWORD)
    page = client.get("/staff/sign-in")
    wrong = client.post("/staff/sign-in", data={"csrf_token": csrf_of(page.text), "name": "ann", "password": "x" * 20})
    assert wrong.status_code == 401 and "wrong" in wrong.text
    right = client.post("/staff/sign-in", data={"csrf_token": csrf_of(page.text), "name": "ann", "password": PASSWORD})
    assert right.url.path == "/staff"
    cookie = right.history[0].headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Secure" in cookie
    actions = [e.action for e in app.state.repository.audit_entries()]
    assert actions[:2] == ["sign_in", "sign_in_failed"]
    out = client.post("/staff/sign-out", data={"csrf_token": csrf_of(right.text)})
    assert out.url.path == "/staff/sign-in"
    assert client.get("/staff").url.path == "/staff/sign-in"


def test_insecure_cookies_only_when_asked(sqlite_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rctscale.store import upgrade_database
    from rctscale.web import create_app

    upgrade_database(sqlite_url)
    monkeypatch.setenv("RCTSCALE_INSECURE_COOKIES", "1")
    assert create_app(sqlite_url).state.settings.secure_cookies is False
    monkeypatch.delenv("RCTSCALE_INSECURE_COOKIES")
    assert create_app(sqlite_url).state.settings.secure_cookies is True


def test_researcher_sees_administrations_and_de_identified_exports_only(app: FastAPI) -> None:
    clinician = signed_in_client(app, "clinician")
    administration_id, [link] = create_administration(clinician, mode="invitations", labels="Jo Bloggs")
    _submit(app, link, "2")
    researcher = signed_in_client(app, "researcher")
    assert researcher.get(f"/staff/administrations/{administration_id}").status_code == 200
    for path in (f"/staff/administrations/{administration_id}/responses", "/staff/responses/1",
                 f"/staff/administrations/{administration_id}/export.csv?identified=1", "/staff/audit"):
        denied = researcher.get(path)
        assert denied.status_code == 403, path
        assert "Jo Bloggs" not in denied.text
    export = researcher.get(f"/staff/administrations/{administration_id}/export.csv?shape=wide")
    assert export.status_code == 200 and "Jo Bloggs" not in export.text and "respondent_label" not in export.text
    page = researcher.get("/staff")
    refused = researcher.post("/staff/administrations", data={
        "csrf_token": csrf_of(page.text), "form": "intake", "title": "T", "mode": "invitations", "labels": "A Name"})
    assert refused.status_code == 403


def test_responses_page_scores_and_flags_critical_answers(app: FastAPI) -> None:
    clinician = signed_in_client(app, "clinician")
    administration_id, links = create_administration(clinician, mode="invitations", labels="Ann\nBen")
    _submit(app, links[0], "5")  # the critical items' top answers
    _submit(app, links[1], "1")
    page = clinician.get(f"/staff/administrations/{administration_id}/responses")
    assert page.status_code == 200
    assert page.text.count('class="critical"') == 1 and "con31 (Always)" in page.text
    assert "Ann" in page.text and "Ben" in page.text
    assert "view_responses" in [e.action for e in app.state.repository.audit_entries()]


def test_report_shows_scores_sem_interval_no_norms_and_change(app: FastAPI) -> None:
    clinician = signed_in_client(app, "clinician")
    _first, [before] = create_administration(clinician, mode="invitations", labels="MRN-001")
    _other, [someone_else] = create_administration(clinician, mode="invitations", labels="MRN-002")
    _second, [after] = create_administration(clinician, mode="invitations", labels="MRN-001")
    _submit(app, before, "1")
    _submit(app, someone_else, "3")
    _submit(app, after, "5")
    store = app.state.repository
    latest = max(s.response.id for s in store.responses(_second))
    report = clinician.get(f"/staff/responses/{latest}")
    assert report.status_code == 200
    text = report.text
    assert "There are no norms for this form" in text
    assert "95 % interval" in text and " to " in text
    assert "Change since the previous administration" in text and "RCI" in text
    assert "increase" in text or "decrease" in text or "no reliable change" in text
    assert "Critical items" in text and "con31" in text
    assert "Every item was answered." in text
    assert "@media print" in new_client(app).get("/static/rctscale.css").text
    assert ("view_report", latest) in [(e.action, e.target_id) for e in store.audit_entries()]


def test_exports_wide_and_long(app: FastAPI) -> None:
    clinician = signed_in_client(app, "clinician")
    administration_id, [link] = create_administration(clinician, mode="invitations", labels="=HYPERLINK(1)")
    _submit(app, link, "4")
    form = load_form("intake")
    wide = clinician.get(f"/staff/administrations/{administration_id}/export.csv?shape=wide&identified=1")
    rows = list(csv.DictReader(io.StringIO(wide.text)))
    assert len(rows) == 1 and rows[0]["respondent_label"] == "'=HYPERLINK(1)"  # no spreadsheet formula
    assert [rows[0][i] for i in form.item_ids] == ["4"] * 18
    assert wide.headers["content-disposition"].startswith("attachment")
    long = clinician.get(f"/staff/administrations/{administration_id}/export.csv?shape=long")
    long_rows = list(csv.DictReader(io.StringIO(long.text)))
    assert len(long_rows) == 18 and set(long_rows[0]) == {"response_id", "item_id", "value", "declined"}
    details = [e.detail for e in app.state.repository.audit_entries() if e.action == "export"]
    assert details == ["shape=long identified=0 n=1", "shape=wide identified=1 n=1"]
    assert clinician.get(f"/staff/administrations/{administration_id}/export.csv?shape=xml").status_code == 400


def test_close_and_revoke(app: FastAPI) -> None:
    clinician = signed_in_client(app, "clinician")
    administration_id, links = create_administration(clinician, mode="invitations", count=2)
    responses_page = clinician.get(f"/staff/administrations/{administration_id}/responses")
    first_invitation = app.state.repository.invitations(administration_id)[0].invitation.id
    revoked = clinician.post(f"/staff/invitations/{first_invitation}/revoke",
                             data={"csrf_token": csrf_of(responses_page.text)})
    assert revoked.status_code == 200 and "revoked" in revoked.text
    assert new_client(app).get(links[0]).status_code == 404
    assert new_client(app).get(links[1]).status_code == 200
    page = clinician.get(f"/staff/administrations/{administration_id}")
    clinician.post(f"/staff/administrations/{administration_id}/close", data={"csrf_token": csrf_of(page.text)})
    assert new_client(app).get(links[1]).status_code == 404
    actions = [e.action for e in app.state.repository.audit_entries()]
    assert "administration_close" in actions and "invitation_revoke" in actions


def test_more_invitations_and_public_link_shown_again(app: FastAPI) -> None:
    admin = signed_in_client(app, "admin")
    public_id, [public_link] = create_administration(admin)
    assert public_link in admin.get(f"/staff/administrations/{public_id}").text
    invitations_id, _links = create_administration(admin, mode="invitations", count=1)
    page = admin.get(f"/staff/administrations/{invitations_id}")
    more = admin.post(f"/staff/administrations/{invitations_id}/invitations",
                      data={"csrf_token": csrf_of(page.text), "count": "3"})
    assert more.text.count("/i/") == 3 and "cannot be shown again" in more.text
    assert admin.get("/staff/audit").status_code == 200


def _cli() -> typer.Typer:
    from rctscale.web.cli import administration_app, db_app, user_app

    app = typer.Typer()
    app.add_typer(user_app, name="user")
    app.add_typer(administration_app, name="administration")
    app.add_typer(db_app, name="db")
    return app


def test_cli_db_upgrade_user_add_and_administration_create(sqlite_url: str) -> None:
    runner = CliRunner()
    env = {"RCTSCALE_DATABASE_URL": sqlite_url}
    upgraded = runner.invoke(_cli(), ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0 and "revision 0002" in upgraded.output
    added = runner.invoke(_cli(), ["user", "add", "sam", "--role", "clinician"], input=PASSWORD + "\n", env=env)
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output
    public = runner.invoke(_cli(), ["administration", "create", "intake", "--public", "--referent", "my partner"],
                           env=env)
    assert public.exit_code == 0 and "/r/" in public.output
    invited = runner.invoke(_cli(), ["administration", "create", "intake", "--invitations", "3"], env=env)
    assert invited.exit_code == 0 and invited.output.count("/i/") == 3
    both = runner.invoke(_cli(), ["administration", "create", "intake"], env=env)
    assert both.exit_code != 0
