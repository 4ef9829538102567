"""The staff side: sign-in, administrations, invitations, responses, reports, exports, audit log.

Roles: ``admin`` sees everything; ``clinician`` sees identified responses and reports;
``researcher`` sees administrations and de-identified exports only. Every POST carries the
session's CSRF token; every view of identified data and every export is audited by id.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from rctscale.bank import form_paths, load_form
from rctscale.report.respondent import critical_answers, render_respondent_sections
from rctscale.store.models import Administration, User
from rctscale.web.app import (
    SignInRequired,
    check_pre_session_csrf,
    client_address,
    form_of,
    format_time,
    pre_session_csrf,
    render,
    repository,
    set_pre_session_csrf,
    settings_of,
)
from rctscale.web.respondent import Fields
from rctscale.web.scores import respondent_report, score_answers

router = APIRouter(prefix="/staff")
log = logging.getLogger("rctscale.web")

STAFF_COOKIE = "rctscale_staff"
IDENTIFIED_ROLES = ("admin", "clinician")
MAX_INVITATIONS = 1000
MAX_TITLE = 300
MAX_LABEL = 200
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Staff:
    user: User
    csrf_token: str

    @property
    def sees_identified(self) -> bool:
        return self.user.role in IDENTIFIED_ROLES


def signed_in(request: Request) -> Staff:
    token = request.cookies.get(STAFF_COOKIE)
    found = repository(request).staff_session(token) if token and len(token) <= 100 else None
    if found is None:
        raise SignInRequired
    return Staff(*found)


SignedIn = Annotated[Staff, Depends(signed_in)]


def require_role(staff: Staff, roles: tuple[str, ...]) -> None:
    if staff.user.role not in roles:
        raise HTTPException(403, f"Your role ({staff.user.role}) may not open this page. "
                                 f"It is for: {', '.join(roles)}.")


def check_csrf(staff: Staff, fields: FormData) -> None:
    submitted = fields.get("csrf_token")
    if not isinstance(submitted, str) or not secrets.compare_digest(submitted, staff.csrf_token):
        raise HTTPException(403, "This form was out of date or did not come from this site, so nothing was "
                                 "changed. Reload the page and try again.")


def _administration_or_404(request: Request, administration_id: int) -> Administration:
    administration = repository(request).administration(administration_id)
    if administration is None:
        raise HTTPException(404, "There is no such administration.")
    return administration


def page(request: Request, staff: Staff, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return render(request, template, {"staff": staff, "csrf_token": staff.csrf_token, **context}, status_code)


# ---------------------------------------------------------------------- sign-in


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> HTMLResponse:
    return _sign_in_form(request)


def _sign_in_form(request: Request, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    csrf_token, new_cookie = pre_session_csrf(request)
    response = render(request, "staff/sign_in.html", {"title": "Staff sign-in", "csrf_token": csrf_token,
                                                      "error": error}, status_code)
    if new_cookie:
        set_pre_session_csrf(request, response, csrf_token)
    return response


@router.post("/sign-in")
def sign_in(request: Request, fields: Fields) -> Response:
    if not check_pre_session_csrf(request, fields.get("csrf_token")):
        return _sign_in_form(request, "The sign-in form was out of date. Please try again.", 403)
    name, password = fields.get("name"), fields.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or len(name) > 200 or len(password) > 1000:
        return _sign_in_form(request, "Enter your user name and password.", 400)
    limiter = request.app.state.sign_in_limiter
    keys = (f"address:{client_address(request)}", "name:" + hashlib.sha256(name.encode()).hexdigest())
    if limiter.blocked(*keys):
        return _sign_in_form(request, "Too many failed sign-ins. Wait 15 minutes and try again.", 429)
    store = repository(request)
    user = store.authenticate(name, password)
    if user is None:
        limiter.fail(*keys)
        store.audit("sign_in_failed", user_id=store.user_id_by_name(name))
        return _sign_in_form(request, "The user name or password is wrong.", 401)
    token, _csrf = store.open_staff_session(user.id, dt.timedelta(hours=settings_of(request).staff_session_hours))
    store.audit("sign_in", user_id=user.id)
    log.info("user %d signed in", user.id)
    response = RedirectResponse("/staff", status_code=303)
    response.set_cookie(STAFF_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=settings_of(request).secure_cookies)
    return response


@router.post("/sign-out")
def sign_out(request: Request, staff: SignedIn, fields: Fields) -> Response:
    check_csrf(staff, fields)
    store = repository(request)
    store.close_staff_session(request.cookies.get(STAFF_COOKIE, ""))
    store.audit("sign_out", user_id=staff.user.id)
    response = RedirectResponse("/staff/sign-in", status_code=303)
    response.delete_cookie(STAFF_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=settings_of(request).secure_cookies)
    return response


# ---------------------------------------------------------------------- administrations


def available_forms(request: Request) -> list[str]:
    return [path.stem for path in form_paths(settings_of(request).items_dir)]


@router.get("", response_class=HTMLResponse)
def administrations(request: Request, staff: SignedIn) -> HTMLResponse:
    return page(request, staff, "staff/administrations.html", {
        "title": "Administrations", "summaries": repository(request).administrations(),
        "forms": available_forms(request)})


@router.post("/administrations", response_class=HTMLResponse)
def create_administration(request: Request, staff: SignedIn,
                          fields: Fields) -> Response:
    check_csrf(staff, fields)
    form_name = str(fields.get("form", ""))
    if form_name not in available_forms(request):
        raise HTTPException(400, "Choose one of the forms in the list.")
    title = str(fields.get("title", "")).strip()
    referent = str(fields.get("referent", "")).strip()
    mode = str(fields.get("mode", ""))
    if not title or len(title) > MAX_TITLE or len(referent) > MAX_TITLE:
        raise HTTPException(400, f"A title is needed; title and referent may have at most {MAX_TITLE} characters.")
    if mode not in ("public", "invitations"):
        raise HTTPException(400, "Choose a public link or personal invitations.")
    labels = _invitation_labels(staff, fields) if mode == "invitations" else []
    form = load_form(form_name, items_dir=settings_of(request).items_dir)
    store = repository(request)
    administration = store.create_administration(form_id=form_name, form_hash=form.content_hash, title=title,
                                                 referent=referent or None, mode=mode, created_by=staff.user.id)
    if mode == "public":
        return RedirectResponse(f"/staff/administrations/{administration.id}", status_code=303)
    return _invitation_links(request, staff, administration, labels, fields)


def _invitation_labels(staff: Staff, fields: FormData) -> list[str | None]:
    """One invitation per label line, else ``count`` unlabelled ones."""
    lines = [line.strip() for line in str(fields.get("labels", "")).splitlines() if line.strip()]
    if lines and not staff.sees_identified:
        raise HTTPException(403, "Researchers create anonymous invitations only: leave the names empty.")
    if any(len(line) > MAX_LABEL for line in lines):
        raise HTTPException(400, f"A name or record number may have at most {MAX_LABEL} characters.")
    if lines:
        labels: list[str | None] = list(lines)
    else:
        count = str(fields.get("count", "0")).strip()
        labels = [None] * (int(count) if count.isdigit() else -1)
    if not 1 <= len(labels) <= MAX_INVITATIONS:
        raise HTTPException(400, f"Ask for 1 to {MAX_INVITATIONS} invitations.")
    return labels


def _invitation_links(request: Request, staff: Staff, administration: Administration, labels: list[str | None],
                      fields: FormData) -> HTMLResponse:
    days = str(fields.get("expires_days", "")).strip()
    expires_days = int(days) if days.isdigit() and 1 <= int(days) <= 365 else settings_of(request).invitation_days
    created = repository(request).add_invitations(administration.id, labels,
                                                  expires_in=dt.timedelta(days=expires_days),
                                                  created_by=staff.user.id)
    base = str(request.base_url).rstrip("/")
    links = [{"label": invitation.respondent_label, "url": f"{base}/i/{token}", "expires_at": invitation.expires_at}
             for invitation, token in created]
    return page(request, staff, "staff/links.html", {"title": "New invitation links", "administration": administration,
                                                      "links": links})


@router.get("/administrations/{administration_id}", response_class=HTMLResponse)
def administration_page(request: Request, administration_id: int, staff: SignedIn) -> HTMLResponse:
    administration = _administration_or_404(request, administration_id)
    summary = next(s for s in repository(request).administrations() if s.administration.id == administration_id)
    public_url = (f"{str(request.base_url).rstrip('/')}/r/{administration.public_key}"
                  if administration.public_key else None)
    return page(request, staff, "staff/administration.html", {
        "title": administration.title, "administration": administration, "summary": summary,
        "public_url": public_url, "form_current": form_of(request, administration) is not None})


@router.post("/administrations/{administration_id}/close")
def close_administration(request: Request, administration_id: int, staff: SignedIn,
                         fields: Fields) -> Response:
    check_csrf(staff, fields)
    _administration_or_404(request, administration_id)
    repository(request).close_administration(administration_id, user_id=staff.user.id)
    return RedirectResponse(f"/staff/administrations/{administration_id}", status_code=303)


@router.post("/administrations/{administration_id}/invitations", response_class=HTMLResponse)
def add_invitations(request: Request, administration_id: int, staff: SignedIn,
                    fields: Fields) -> Response:
    check_csrf(staff, fields)
    administration = _administration_or_404(request, administration_id)
    if administration.mode != "invitations" or administration.status != "open":
        raise HTTPException(400, "Invitations can be added to an open invitation administration only.")
    return _invitation_links(request, staff, administration, _invitation_labels(staff, fields), fields)


@router.post("/invitations/{invitation_id}/revoke")
def revoke_invitation(request: Request, invitation_id: int, staff: SignedIn,
                      fields: Fields) -> Response:
    check_csrf(staff, fields)
    require_role(staff, IDENTIFIED_ROLES)
    administration_id = repository(request).revoke_invitation(invitation_id, user_id=staff.user.id)
    if administration_id is None:
        raise HTTPException(404, "There is no unused invitation with this number.")
    return RedirectResponse(f"/staff/administrations/{administration_id}/responses", status_code=303)


# ---------------------------------------------------------------------- identified data


@router.get("/administrations/{administration_id}/responses", response_class=HTMLResponse)
def responses_page(request: Request, administration_id: int, staff: SignedIn) -> HTMLResponse:
    require_role(staff, IDENTIFIED_ROLES)
    administration = _administration_or_404(request, administration_id)
    store = repository(request)
    form = form_of(request, administration)
    stored = store.responses(administration_id)
    submitted = {s.response.id: s.answers for s in stored if s.response.status == "submitted"}
    scores = score_answers(form, submitted) if form is not None else None
    rows = []
    for entry in stored:
        sums = {}
        if scores is not None and entry.response.id in submitted:
            sums = {scale.id: scores.loc[entry.response.id, f"{scale.id}_sum"] for scale in form.scales}  # type: ignore[union-attr]
        rows.append({"entry": entry, "sums": sums,
                     "critical": critical_answers(form, entry.answers) if form is not None else []})
    store.audit("view_responses", user_id=staff.user.id, target_type="administration", target_id=administration_id)
    return page(request, staff, "staff/responses.html", {
        "title": f"Responses: {administration.title}", "administration": administration, "form": form, "rows": rows,
        "invitations": store.invitations(administration_id) if administration.mode == "invitations" else []})


@router.get("/responses/{response_id}", response_class=HTMLResponse)
def report_page(request: Request, response_id: int, staff: SignedIn) -> HTMLResponse:
    require_role(staff, IDENTIFIED_ROLES)
    store = repository(request)
    current = store.response(response_id)
    if current is None:
        raise HTTPException(404, "There is no such response.")
    form = form_of(request, current.administration)
    if form is None or current.response.form_hash != form.content_hash:
        raise HTTPException(409, "The form file has changed since this response was given, so it cannot be scored "
                                 "here. Score an export with the form version it was given on.")
    previous = store.previous_response(current) if current.response.status == "submitted" else None
    sample = store.submitted_answers_for_form(form.id, form.content_hash)
    report = respondent_report(form, current.administration.referent or form.referent, current, previous, sample)
    # The sections come from the same renderer as `rctscale report respondent`, so the two never disagree.
    previous_label = (f"Previous response #{previous.response.id}, submitted "
                      f"{format_time(previous.response.submitted_at)}" if previous is not None else None)
    report_html = render_respondent_sections(report, previous_label=previous_label)
    store.audit("view_report", user_id=staff.user.id, target_type="response", target_id=response_id)
    return page(request, staff, "staff/report.html", {
        "title": f"Report: response {response_id}", "current": current, "previous": previous, "form": form,
        "report": report, "report_html": report_html})


@router.get("/administrations/{administration_id}/export.csv")
def export(request: Request, administration_id: int, staff: SignedIn, shape: str = "wide",
           identified: int = 0) -> Response:
    if shape not in ("wide", "long") or identified not in (0, 1):
        raise HTTPException(400, "shape is 'wide' or 'long'; identified is 0 or 1.")
    if identified:
        require_role(staff, IDENTIFIED_ROLES)
    administration = _administration_or_404(request, administration_id)
    form = form_of(request, administration)
    store = repository(request)
    stored = store.responses(administration_id, submitted_only=True)
    item_ids = form.item_ids if form is not None else sorted({i for s in stored for i in s.answers})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    label_column = ["respondent_label"] if identified else []
    if shape == "wide":
        writer.writerow(["response_id", *label_column, "administration_id", "form_id", "form_hash", "started_at",
                         "submitted_at", "n_declined", *item_ids])
        for entry in stored:
            writer.writerow([entry.response.id, *_label(entry.respondent_label, identified), administration_id,
                             administration.form_id, entry.response.form_hash, entry.response.started_at.isoformat(),
                             entry.response.submitted_at.isoformat() if entry.response.submitted_at else "",
                             sum(v is None for v in entry.answers.values()),
                             *("" if entry.answers.get(i) is None else entry.answers[i] for i in item_ids)])
    else:
        writer.writerow(["response_id", *label_column, "item_id", "value", "declined"])
        for entry in stored:
            for item_id in item_ids:
                if item_id in entry.answers:
                    value = entry.answers[item_id]
                    writer.writerow([entry.response.id, *_label(entry.respondent_label, identified), item_id,
                                     "" if value is None else value, int(value is None)])
    store.audit("export", user_id=staff.user.id, target_type="administration", target_id=administration_id,
                detail=f"shape={shape} identified={identified} n={len(stored)}")
    filename = f"administration-{administration_id}-{shape}{'-identified' if identified else ''}.csv"
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


def _label(label: str | None, identified: int) -> list[str]:
    if not identified:
        return []
    text = label or ""
    # A spreadsheet would run a label starting with "=" as a formula.
    return ["'" + text if text.startswith(FORMULA_STARTS) else text]


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, staff: SignedIn) -> HTMLResponse:
    require_role(staff, ("admin",))
    return page(request, staff, "staff/audit.html", {"title": "Audit log",
                                                     "entries": repository(request).audit_entries()})
