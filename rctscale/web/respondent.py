"""The respondent's side: instructions and consent, paged items, review, submit, thanks.

Two kinds of link lead here: ``/i/<token>`` (a personal single-use invitation; the token is
the credential, so the same link resumes on any device) and ``/r/<key>`` (an administration's
public link; a cookie holding a random respondent key resumes in the same browser). Every
wrong, used, expired, revoked or closed link gets the same page with the same status.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from rctscale.adaptive import AdaptivePlan, CurrentQuestion
from rctscale.bank import Form, Item, fill_referent
from rctscale.errors import RctscaleError
from rctscale.store import LinkState, new_token
from rctscale.web.adaptive import adaptive_plan, seeds_of
from rctscale.web.app import (
    check_pre_session_csrf,
    client_address,
    form_of,
    message_page,
    pre_session_csrf,
    render,
    repository,
    set_pre_session_csrf,
    settings_of,
)

router = APIRouter()
log = logging.getLogger("rctscale.web")

RESPONDENT_COOKIE = "rctscale_respondent"
DECLINED_VALUE = "declined"
LINK_KINDS = ("i", "r")
MAX_KEY_LENGTH = 100
INVALID_LINK = ("This link cannot be used. It may be mistyped, already used or expired, or the survey may be "
                "closed. If someone sent you this link, please contact them for a new one.")


class InvalidLink(Exception):
    """Any link that does not open a survey; answered with one page whatever the reason."""


@dataclass(frozen=True)
class Opened:
    """An open link with its form: what every respondent page works from."""

    kind: str
    key: str
    link: LinkState
    form: Form
    pages: list[list[Item]]
    plan: AdaptivePlan | None = None  # set for an adaptive administration: one CAT-chosen item per page

    @property
    def base(self) -> str:
        return f"/{self.kind}/{self.key}"

    @property
    def referent(self) -> str:
        return self.link.administration.referent or self.form.referent

    def instructions(self) -> str:
        return fill_referent(self.form.instructions.replace("{time_frame}", self.form.time_frame), self.referent)


async def read_form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=1000)


Fields = Annotated[FormData, Depends(read_form)]


def invalid_link_page(request: Request) -> HTMLResponse:
    return message_page(request, 404, "Link not valid", INVALID_LINK)


def open_link(request: Request, kind: str, key: str) -> Opened:
    """Resolve a link or raise InvalidLink; wrong guesses count towards the address's rate limit."""
    limiter = request.app.state.token_limiter
    address = client_address(request)
    if limiter.blocked(address):
        raise HTTPException(429, "Too many links that do not work were tried from here. Please wait a few minutes.")
    if kind not in LINK_KINDS:
        raise HTTPException(404, "There is no page at this address.")
    link = None
    if len(key) <= MAX_KEY_LENGTH:
        store = repository(request)
        if kind == "i":
            link = store.resolve_invitation(key)
        else:
            link = store.resolve_public(key, request.cookies.get(RESPONDENT_COOKIE))
    form = form_of(request, link.administration) if link else None
    if link is None or form is None:
        limiter.fail(address)
        raise InvalidLink
    try:
        plan = adaptive_plan(form, link.administration)
    except RctscaleError:
        # The stored calibration no longer fits the form's banks: as unusable as a changed form.
        log.warning("administration %d: its adaptive settings do not fit its form", link.administration.id)
        raise InvalidLink from None
    size = settings_of(request).items_per_page
    pages = [list(form.items[start:start + size]) for start in range(0, len(form.items), size)]
    return Opened(kind, key, link, form, pages, plan)


def _first_open_page(opened: Opened, answers: dict[str, int | None]) -> int:
    for number, items in enumerate(opened.pages, start=1):
        if any(item.id not in answers for item in items):
            return number
    return len(opened.pages)


def _open_started(request: Request, kind: str, key: str) -> Opened | Response:
    """The open link, if a response has been started through it; else the page to answer with instead."""
    try:
        opened = open_link(request, kind, key)
    except InvalidLink:
        return invalid_link_page(request)
    if opened.link.response is None:
        return RedirectResponse(opened.base, status_code=303)
    return opened


def _out_of_date(request: Request, fields: FormData, nonce: str) -> HTMLResponse | None:
    """The page refusing a POST whose CSRF token is not the response's nonce; None when it is."""
    csrf_token = fields.get("csrf_token")
    if not isinstance(csrf_token, str) or not secrets.compare_digest(csrf_token, nonce):
        return message_page(request, 403, "Please try again",
                            "This page was out of date and was not saved. Open your link again to continue.")
    return None


def _answer_label(item: Item, answers: dict[str, int | None]) -> str:
    if item.id not in answers:
        return "Not answered"
    value = answers[item.id]
    return "Prefer not to answer" if value is None else item.scale.label_of(value)


@router.get("/thanks", response_class=HTMLResponse)
def thanks(request: Request) -> HTMLResponse:
    return render(request, "thanks.html", {"title": "Thank you"})


@router.get("/{kind}/{key}", response_class=HTMLResponse)
def intro(request: Request, kind: str, key: str) -> Response:
    try:
        opened = open_link(request, kind, key)
    except InvalidLink:
        return invalid_link_page(request)
    return _intro_page(request, opened)


def _intro_page(request: Request, opened: Opened, error: str | None = None) -> HTMLResponse:
    csrf_token, new_cookie = pre_session_csrf(request)
    page = render(request, "intro.html", {
        "title": opened.link.administration.title, "opened": opened, "csrf_token": csrf_token, "error": error,
        "resuming": opened.link.response is not None, "n_items": len(opened.form.items),
        "n_pages": len(opened.pages), "adaptive": opened.plan is not None,
        "n_parts": len(opened.plan.sections) if opened.plan else 0,
        "adaptive_at_most": sum(s.max_items for s in opened.plan.sections) if opened.plan else 0},
        400 if error else 200)
    if new_cookie:
        set_pre_session_csrf(request, page, csrf_token)
    return page


@router.post("/{kind}/{key}/start")
def start(request: Request, kind: str, key: str, fields: Fields) -> Response:
    try:
        opened = open_link(request, kind, key)
    except InvalidLink:
        return invalid_link_page(request)
    if not check_pre_session_csrf(request, fields.get("csrf_token")):
        return message_page(request, 403, "Please try again",
                            "This page was out of date. Open the link again and press Start.")
    if fields.get("consent") != "yes":
        return _intro_page(request, opened, error="Please tick the box to show you agree before you start.")
    store = repository(request)
    respondent_key = None
    if opened.link.response is not None:
        response = opened.link.response
    elif kind == "i":
        response = store.start_response(opened.link)
    else:
        respondent_key = new_token()
        response = store.start_response(opened.link, respondent_key=respondent_key)
    log.info("response %d started (administration %d)", response.id, opened.link.administration.id)
    if opened.plan is not None:
        redirect = RedirectResponse(f"{opened.base}/question", status_code=303)
    else:
        number = _first_open_page(opened, store.answers(response.id))
        redirect = RedirectResponse(f"{opened.base}/page/{number}", status_code=303)
    if respondent_key is not None:
        redirect.set_cookie(RESPONDENT_COOKIE, respondent_key, max_age=60 * 60 * 24 * 30, path=opened.base,
                            httponly=True, samesite="strict", secure=settings_of(request).secure_cookies)
    return redirect


@router.get("/{kind}/{key}/page/{number}", response_class=HTMLResponse)
def show_page(request: Request, kind: str, key: str, number: int) -> Response:
    opened = _open_started(request, kind, key)
    if not isinstance(opened, Opened):
        return opened
    assert opened.link.response is not None
    if opened.plan is not None:
        return RedirectResponse(f"{opened.base}/question", status_code=303)
    if not 1 <= number <= len(opened.pages):
        raise HTTPException(404, "This survey has no such page.")
    return _render_page(request, opened, number, repository(request).answers(opened.link.response.id))


def _render_page(request: Request, opened: Opened, number: int, answers: dict[str, int | None]) -> HTMLResponse:
    items = [{"id": item.id, "text": item.text_for(opened.referent), "options": item.scale.options,
              "answer": (DECLINED_VALUE if answers[item.id] is None else str(answers[item.id]))
              if item.id in answers else None}
             for item in opened.pages[number - 1]]
    return render(request, "page.html", {
        "title": f"{opened.link.administration.title}: page {number} of {len(opened.pages)}", "opened": opened,
        "number": number, "n_pages": len(opened.pages), "items": items,
        "csrf_token": opened.link.response.nonce if opened.link.response else "",
        "declined_value": DECLINED_VALUE})


def parse_page_answers(fields: FormData, items: list[Item]) -> tuple[dict[str, int | None], list[str]]:
    """The answers on one page, checked against the form; (answers, problems). Nothing is partial."""
    on_page = {item.id: item for item in items}
    answers: dict[str, int | None] = {}
    problems: list[str] = []
    for name, raw in fields.multi_items():
        if name in ("csrf_token", "action"):
            continue
        item = on_page.get(name)
        if item is None:
            problems.append(f"“{name[:60]}” is not a question on this page.")
            continue
        if name in answers:
            problems.append(f"Question {name} was answered twice.")
            continue
        if raw == DECLINED_VALUE:
            answers[name] = None
        elif isinstance(raw, str) and raw.isdigit() and int(raw) in item.scale.values:
            answers[name] = int(raw)
        else:
            allowed = ", ".join(str(v) for v in item.scale.values)
            problems.append(f"The answer to question {name} must be one of {allowed} or “{DECLINED_VALUE}”.")
    return answers, problems


@router.post("/{kind}/{key}/page/{number}")
def save_page(request: Request, kind: str, key: str, number: int, fields: Fields) -> Response:
    opened = _open_started(request, kind, key)
    if not isinstance(opened, Opened):
        return opened
    response = opened.link.response
    assert response is not None
    if opened.plan is not None:
        # Answering a page of items would bypass the CAT's choice of what to ask.
        return render(request, "message.html", {
            "title": "Answers not saved", "message": "This survey asks one question at a time; nothing was saved.",
            "back": f"{opened.base}/question"}, 400)
    if not 1 <= number <= len(opened.pages):
        raise HTTPException(404, "This survey has no such page.")
    refused = _out_of_date(request, fields, response.nonce)
    if refused is not None:
        return refused
    answers, problems = parse_page_answers(fields, opened.pages[number - 1])
    if problems:
        return render(request, "message.html", {
            "title": "Answers not saved", "message": "Nothing on this page was saved:", "problems": problems,
            "back": f"{opened.base}/page/{number}"}, 400)
    outcome = repository(request).save_answers(response.id, response.nonce, answers)
    if outcome != "saved":
        return invalid_link_page(request)
    action = fields.get("action")
    if action == "back":
        target = f"{opened.base}/page/{number - 1}" if number > 1 else opened.base
    elif action == "save":
        target = f"{opened.base}/saved"
    elif number < len(opened.pages):
        target = f"{opened.base}/page/{number + 1}"
    else:
        target = f"{opened.base}/review"
    return RedirectResponse(target, status_code=303)


@router.get("/{kind}/{key}/saved", response_class=HTMLResponse)
def saved(request: Request, kind: str, key: str) -> Response:
    try:
        opened = open_link(request, kind, key)
    except InvalidLink:
        return invalid_link_page(request)
    return render(request, "saved.html", {"title": "Answers saved", "opened": opened})


@router.get("/{kind}/{key}/review", response_class=HTMLResponse)
def review(request: Request, kind: str, key: str) -> Response:
    opened = _open_started(request, kind, key)
    if not isinstance(opened, Opened):
        return opened
    response = opened.link.response
    assert response is not None
    answers = repository(request).answers(response.id)
    if opened.plan is not None:
        return _adaptive_review(request, opened, opened.plan, answers)
    pages = []
    for number, items in enumerate(opened.pages, start=1):
        rows = [{"text": item.text_for(opened.referent), "answer": _answer_label(item, answers),
                 "missing": item.id not in answers} for item in items]
        pages.append({"number": number, "rows": rows})
    n_missing = sum(item.id not in answers for item in opened.form.items)
    return render(request, "review.html", {"title": f"{opened.link.administration.title}: check your answers",
                                           "opened": opened, "pages": pages, "n_missing": n_missing,
                                           "csrf_token": response.nonce})


@router.post("/{kind}/{key}/submit")
def submit(request: Request, kind: str, key: str, fields: Fields) -> Response:
    if kind not in LINK_KINDS or len(key) > MAX_KEY_LENGTH:
        return invalid_link_page(request)
    nonce = fields.get("csrf_token")
    if not isinstance(nonce, str):
        return message_page(request, 403, "Please try again", "This page was out of date. Open your link again.")
    store = repository(request)
    respondent_key = request.cookies.get(RESPONDENT_COOKIE) if kind == "r" else None
    response = store.response_behind_link(invitation_token=key if kind == "i" else None,
                                          respondent_key=respondent_key)
    if response is None or response.status != "submitted":
        # A first submission must come through a link that is still open.
        try:
            opened = open_link(request, kind, key)
        except InvalidLink:
            return invalid_link_page(request)
        if opened.link.response is None or response is None or opened.link.response.id != response.id:
            return RedirectResponse(opened.base, status_code=303)
    outcome = store.submit_response(response.id, nonce)
    if outcome == "invalid":
        # Without this response's nonce a used link looks like any other link that does not work.
        return invalid_link_page(request)
    if outcome == "submitted":
        log.info("response %d submitted", response.id)
    redirect = RedirectResponse("/thanks", status_code=303)
    if kind == "r":
        redirect.delete_cookie(RESPONDENT_COOKIE, path=f"/r/{key}", httponly=True, samesite="strict",
                               secure=settings_of(request).secure_cookies)
    return redirect


# ---------------------------------------------------------------------- adaptive administrations
#
# One item per page, chosen on the server from the stored answers: the CAT state of every section
# is rebuilt from the database on each request, so a reload, a resume on another device, the back
# button or a repeated POST all land on the same current question. An answer is accepted only for
# the current question (a repeat of an answer already stored is accepted and changes nothing);
# earlier answers cannot be changed, because every later question was chosen from them.

QUESTION_FIELD = "question"  # hidden: the item the page showed


def _open_adaptive(request: Request, kind: str, key: str) -> Opened | Response:
    opened = _open_started(request, kind, key)
    if not isinstance(opened, Opened):
        return opened
    if opened.plan is None:
        return RedirectResponse(f"{opened.base}/page/1", status_code=303)
    return opened


def _render_question(request: Request, opened: Opened, current: CurrentQuestion, answer: str | None = None,
                     error: str | None = None) -> HTMLResponse:
    assert opened.plan is not None and opened.link.response is not None
    item = opened.form.item(current.item_id)
    n_parts = len(opened.plan.sections)
    part = f"Part {current.section_index + 1} of {n_parts}: " if n_parts > 1 else ""
    progress = f"{part}Question {current.number} (at most {current.at_most})"
    return render(request, "question.html", {
        "title": f"{opened.link.administration.title}: {progress}", "opened": opened, "progress": progress,
        "item": {"id": item.id, "text": item.text_for(opened.referent), "options": item.scale.options,
                 "answer": answer},
        "csrf_token": opened.link.response.nonce, "declined_value": DECLINED_VALUE, "question_field": QUESTION_FIELD,
        "error": error}, 400 if error else 200)


@router.get("/{kind}/{key}/question", response_class=HTMLResponse)
def show_question(request: Request, kind: str, key: str) -> Response:
    opened = _open_adaptive(request, kind, key)
    if not isinstance(opened, Opened):
        return opened
    assert opened.plan is not None and opened.link.response is not None
    answers = repository(request).answers(opened.link.response.id)
    current = opened.plan.current(answers, seeds_of(opened.link.response))
    if current is None:
        return RedirectResponse(f"{opened.base}/review", status_code=303)
    return _render_question(request, opened, current)


def _not_saved(request: Request, opened: Opened, problems: list[str]) -> HTMLResponse:
    return render(request, "message.html", {
        "title": "Answer not saved", "message": "Nothing was saved:", "problems": problems,
        "back": f"{opened.base}/question"}, 400)


@router.post("/{kind}/{key}/question")
def answer_question(request: Request, kind: str, key: str, fields: Fields) -> Response:
    opened = _open_adaptive(request, kind, key)
    if not isinstance(opened, Opened):
        return opened
    plan, response = opened.plan, opened.link.response
    assert plan is not None and response is not None
    refused = _out_of_date(request, fields, response.nonce)
    if refused is not None:
        return refused
    answer_fields = FormData([(name, value) for name, value in fields.multi_items() if name != QUESTION_FIELD])
    posted, problems = parse_page_answers(answer_fields, list(opened.form.items))
    if len(posted) > 1:
        problems.append("Answer one question at a time.")
    if problems:
        return _not_saved(request, opened, problems)
    store = repository(request)
    stored = store.answers(response.id)
    current = plan.current(stored, seeds_of(response))
    action = fields.get("action")
    done = f"{opened.base}/saved" if action == "save" else f"{opened.base}/question"
    if not posted:
        if action == "save" or current is None:
            return RedirectResponse(done, status_code=303)
        return _render_question(request, opened, current,
                                error="Choose an answer, or “Prefer not to answer”, to go on.")
    [(item_id, value)] = posted.items()
    if item_id in stored:
        if stored[item_id] == value:
            # A double click, a reload of the POST or the back button: the answer is there already.
            return RedirectResponse(done, status_code=303)
        return _not_saved(request, opened, [
            "This question was answered already. Each later question was chosen from that answer, so it cannot "
            "be changed now."])
    if current is None or item_id != current.item_id:
        return _not_saved(request, opened, ["This is not the question being asked now. Go back to the current "
                                            "question to continue."])
    outcome = store.save_answers(response.id, response.nonce, {item_id: value}, answered_before=stored.keys())
    if outcome == "stale":
        # Another tab answered in between; show whatever the current question is now.
        return RedirectResponse(f"{opened.base}/question", status_code=303)
    if outcome != "saved":
        return invalid_link_page(request)
    return RedirectResponse(done, status_code=303)


def _adaptive_review(request: Request, opened: Opened, plan: AdaptivePlan,
                     answers: dict[str, int | None]) -> HTMLResponse:
    assert opened.link.response is not None
    parts = []
    for number, section in enumerate(plan.sections, start=1):
        asked = [opened.form.item(item_id) for item_id in section.asked(answers)]
        rows = [{"text": item.text_for(opened.referent), "answer": _answer_label(item, answers)} for item in asked]
        parts.append({"number": number, "rows": rows})
    unfinished = plan.current(answers, seeds_of(opened.link.response)) is not None
    return render(request, "review_adaptive.html", {
        "title": f"{opened.link.administration.title}: check your answers", "opened": opened, "parts": parts,
        "unfinished": unfinished, "csrf_token": opened.link.response.nonce})
