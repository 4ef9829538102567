"""The app factory: settings, the store, templates, middleware and error pages."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from rctscale.bank import Form, load_form
from rctscale.store import Repository, make_engine
from rctscale.store.database import database_url_from_env
from rctscale.store.models import Administration
from rctscale.web.middleware import BodySizeLimit, SecurityHeaders
from rctscale.web.ratelimit import FailureLimiter

HERE = Path(__file__).parent
PRE_SESSION_CSRF_COOKIE = "rctscale_csrf"


@dataclass
class WebSettings:
    database_url: str
    secure_cookies: bool = True
    max_body_bytes: int = 64 * 1024
    items_per_page: int = 8
    invitation_days: int = 14
    staff_session_hours: int = 12
    sign_in_failures: int = 5          # per client address and per user name ...
    sign_in_window_seconds: int = 900  # ... within this window
    token_failures: int = 30           # wrong respondent links per client address ...
    token_window_seconds: int = 600    # ... within this window
    items_dir: Path | None = None
    extra: dict = field(default_factory=dict)


class SignInRequired(Exception):
    """Raised by staff routes for a request without a valid session: answered with a redirect."""


def create_app(database_url: str | None = None, *, secure_cookies: bool | None = None, **overrides) -> FastAPI:
    """The rctscale web app on ``database_url`` (default: RCTSCALE_DATABASE_URL or ./rctscale.db).

    The schema must be migrated first (``rctscale db upgrade``; ``serve`` does it).
    Cookies are ``Secure`` unless ``secure_cookies=False`` or RCTSCALE_INSECURE_COOKIES=1,
    which is only for plain-http testing on one's own machine.
    """
    if secure_cookies is None:
        secure_cookies = os.environ.get("RCTSCALE_INSECURE_COOKIES") != "1"
    settings = WebSettings(database_url=database_url_from_env(database_url), secure_cookies=secure_cookies,
                           **overrides)
    app = FastAPI(title="rctscale", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.repository = Repository(make_engine(settings.database_url))
    app.state.sign_in_limiter = FailureLimiter(settings.sign_in_failures, settings.sign_in_window_seconds)
    app.state.token_limiter = FailureLimiter(settings.token_failures, settings.token_window_seconds)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["number"] = format_number
    templates.env.filters["when"] = format_time
    app.state.templates = templates

    from rctscale.web.respondent import router as respondent_router
    from rctscale.web.staff import router as staff_router

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # Static and staff first: the respondent routes /{kind}/{key} would otherwise swallow /staff/...
    app.include_router(staff_router)
    app.include_router(respondent_router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/staff", status_code=303)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _error: SignInRequired) -> Response:
        return RedirectResponse("/staff/sign-in", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        return message_page(request, error.status_code, _TITLES.get(error.status_code, "Error"), str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, _error: RequestValidationError) -> Response:
        return message_page(request, 400, "Bad request", "The request did not have the fields this page expects.")

    # Outermost last: the body limit applies before anything reads the body.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed", 429: "Too many attempts"}


def repository(request: Request) -> Repository:
    return request.app.state.repository


def settings_of(request: Request) -> WebSettings:
    return request.app.state.settings


def render(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def message_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    return render(request, "message.html", {"title": title, "message": message}, status_code)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def form_of(request: Request, administration: Administration) -> Form | None:
    """The administration's form as it was when created, or None when the form file has since changed."""
    try:
        form = load_form(administration.form_id, items_dir=settings_of(request).items_dir)
    except Exception:  # a form file removed or broken after the administration was created
        return None
    return form if form.content_hash == administration.form_hash else None


def pre_session_csrf(request: Request) -> tuple[str, bool]:
    """The double-submit CSRF value for forms shown before any session exists; (value, needs setting)."""
    current = request.cookies.get(PRE_SESSION_CSRF_COOKIE)
    if current and 20 <= len(current) <= 64:
        return current, False
    return secrets.token_urlsafe(24), True


def set_pre_session_csrf(request: Request, response: Response, value: str) -> None:
    response.set_cookie(PRE_SESSION_CSRF_COOKIE, value, httponly=True, samesite="strict",
                        secure=settings_of(request).secure_cookies, path="/")


def check_pre_session_csrf(request: Request, submitted: object) -> bool:
    cookie = request.cookies.get(PRE_SESSION_CSRF_COOKIE)
    return bool(cookie) and isinstance(submitted, str) and secrets.compare_digest(cookie, submitted)


def format_number(value: object, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}"
    return str(value)


def format_time(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"
