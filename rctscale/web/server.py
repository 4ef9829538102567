"""Start the app under uvicorn: migrate first, then serve on one process."""

from __future__ import annotations

import logging

from rctscale.store import Repository, make_engine, upgrade_database
from rctscale.store.database import database_url_from_env

log = logging.getLogger("rctscale.web")
DEMO_FORM = "research"


def ensure_demo_administration(database_url: str | None, base_url: str) -> str | None:
    """When the database has no administration, open a public one of the research form; its link."""
    from rctscale.bank import load_form

    repository = Repository(make_engine(database_url))
    try:
        if repository.count_administrations():
            return None
        form = load_form(DEMO_FORM)
        administration = repository.create_administration(
            form_id=DEMO_FORM, form_hash=form.content_hash, title=form.title, referent=None, mode="public")
        return f"{base_url}/r/{administration.public_key}"
    finally:
        repository.engine.dispose()


def run_server(*, host: str = "127.0.0.1", port: int = 8000, database_url: str | None = None,
               demo_administration: bool = False) -> None:
    import uvicorn

    from rctscale.web.app import create_app

    url = database_url_from_env(database_url)
    upgrade_database(url)
    base_url = f"http://{host}:{port}"
    if demo_administration:
        link = ensure_demo_administration(url, base_url)
        if link:
            print(f"A public administration of the '{DEMO_FORM}' form is open at {link}")
    print(f"rctscale is serving at {base_url}/ (staff pages: {base_url}/staff; add a user with "
          "`rctscale user add NAME --role admin`). Ctrl-C stops it.")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # No access log: respondent links carry their token in the path, and a token must not reach a log file.
    uvicorn.run(create_app(url), host=host, port=port, access_log=False, server_header=False,
                proxy_headers=False, log_level="warning")
