"""The web administration: respondents fill forms, staff see scores, reports and exports.

``create_app`` builds the FastAPI app; ``serve`` migrates the database and runs it with
uvicorn. Imports are deferred so ``import rctscale.web`` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(database_url: str | None = None, **settings: Any) -> FastAPI:
    from rctscale.web.app import create_app as _create_app

    return _create_app(database_url, **settings)


def serve(port: int = 8000, host: str = "127.0.0.1", *, database_url: str | None = None,
          demo_administration: bool = True) -> None:
    """Migrate the database, make sure there is something to answer, and serve until Ctrl-C.

    With ``demo_administration`` (the default, as ``rctscale demo`` calls this) an empty
    database gets a public administration of the research form, and its link is printed.
    """
    from rctscale.web.server import run_server

    run_server(host=host, port=port, database_url=database_url, demo_administration=demo_administration)


__all__ = ["create_app", "serve"]
