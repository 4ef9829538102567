"""Typer apps for the web and the store, registered on the ``rctscale`` command by rctscale.cli.

``serve`` (a command), ``user add``, ``administration create`` and ``db upgrade``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rctscale.errors import RctscaleError

if TYPE_CHECKING:
    from rctscale.bank import Form

user_app = typer.Typer(help="Staff users of the web administration.", no_args_is_help=True)
administration_app = typer.Typer(help="Administrations of a form (links for respondents).", no_args_is_help=True)
db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)

DatabaseOption = Annotated[str | None, typer.Option("--database", envvar="RCTSCALE_DATABASE_URL",
                                                    help="Database URL (default: sqlite:///rctscale.db).")]


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database: DatabaseOption = None,
) -> None:
    """Migrate the database and serve the web administration (respondent forms and staff pages)."""
    from rctscale.web.server import run_server

    run_server(host=host, port=port, database_url=database)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The user name to sign in with.")],
    role: Annotated[str, typer.Option(help="admin, clinician or researcher.")],
    database: DatabaseOption = None,
) -> None:
    """Add a staff user; the password is asked without echo (or read from standard input)."""
    from rctscale.store import Repository, make_engine, upgrade_database

    if sys.stdin.isatty():
        password = getpass.getpass("Password (12 characters or more): ")
        if getpass.getpass("Again: ") != password:
            raise RctscaleError("the two passwords differ; nothing was changed")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    upgrade_database(database)
    user = Repository(make_engine(database)).add_user(name, role, password)
    typer.echo(f"added user {user.id} '{user.name}' ({user.role})")


@administration_app.command("create")
def administration_create(
    form: Annotated[str, typer.Argument(help="Form name (intake, research).")],
    public: Annotated[bool, typer.Option("--public", help="One anonymous public link.")] = False,
    invitations: Annotated[int, typer.Option(min=0, max=1000, help="This many single-use invitations.")] = 0,
    referent: Annotated[str | None, typer.Option(help="How items name the other person, e.g. 'my therapist'.")
                        ] = None,
    title: Annotated[str | None, typer.Option(help="Title shown to respondents (default: the form's).")] = None,
    expires_days: Annotated[int, typer.Option(min=1, max=365, help="Invitations expire after this many days.")
                            ] = 14,
    base_url: Annotated[str, typer.Option(help="Where the server is reached, for the printed links.")
                        ] = "http://127.0.0.1:8000",
    adaptive: Annotated[bool, typer.Option(
        "--adaptive", help="Ask each scale by CAT, one item at a time (needs item calibrations).")] = False,
    calibration: Annotated[Path | None, typer.Option(
        help="Calibration directory or file (default: items/calibration). Given without --adaptive, the "
             "calibration is kept for IRT scores only.")] = None,
    se_target: Annotated[float, typer.Option(help="Adaptive: stop a scale when its SE is below this.")] = 0.3,
    min_items: Annotated[int, typer.Option(help="Adaptive: ask at least this many items per scale.")] = 4,
    max_items: Annotated[int, typer.Option(help="Adaptive: ask at most this many items per scale.")] = 12,
    randomesque: Annotated[int, typer.Option(help="Adaptive: draw among this many most informative items.")] = 3,
    content_balancing: Annotated[bool, typer.Option(
        "--content-balancing/--no-content-balancing", help="Adaptive: every facet once before any twice.")] = True,
    database: DatabaseOption = None,
) -> None:
    """Create an administration of FORM and print its link(s). Invitation links are shown only now."""
    from rctscale.bank import load_form
    from rctscale.store import Repository, make_engine, upgrade_database

    if public == (invitations > 0):
        raise RctscaleError("give either --public or --invitations N (N >= 1)")
    loaded = load_form(form)
    cat_rules, stored_calibration, described = None, None, None
    if adaptive or calibration is not None:
        cat_rules, stored_calibration, described = _adaptive_settings(
            loaded, adaptive=adaptive, calibration=calibration, se_target=se_target, min_items=min_items,
            max_items=max_items, randomesque=randomesque, content_balancing=content_balancing)
    upgrade_database(database)
    repository = Repository(make_engine(database))
    administration = repository.create_administration(
        form_id=form, form_hash=loaded.content_hash, title=title or loaded.title, referent=referent,
        mode="public" if public else "invitations", adaptive=adaptive, cat_rules=cat_rules,
        calibration=stored_calibration)
    base = base_url.rstrip("/")
    typer.echo(f"administration {administration.id}: {administration.title} (form {loaded.id})")
    if described:
        typer.echo(described)
    if public:
        typer.echo(f"public link: {base}/r/{administration.public_key}")
        return
    created = repository.add_invitations(administration.id, [None] * invitations,
                                         expires_in=dt.timedelta(days=expires_days))
    typer.echo(f"{len(created)} invitation link(s), each for one person, stored only as hashes (copy them now):")
    for _invitation, token in created:
        typer.echo(f"{base}/i/{token}")


def _adaptive_settings(form: Form, *, adaptive: bool, calibration: Path | None, se_target: float, min_items: int,
                       max_items: int, randomesque: int, content_balancing: bool) -> tuple[str | None, str, str]:
    """The JSON the administration keeps (rules, calibrations) and a sentence saying what was set up."""
    from rctscale.adaptive import AdaptivePlan, AdaptiveRules, administration_settings
    from rctscale.bank.calibration import calibration_dir, load_calibrations

    source = calibration if calibration is not None else calibration_dir()
    calibrations = load_calibrations(source, form.banks, required=adaptive)
    if not calibrations:
        raise RctscaleError(f"{source}: no calibration of the banks of form '{form.id}' "
                            f"({', '.join(b.id for b in form.banks)}); write them with `rctscale calibrate`")
    rules = AdaptiveRules(se_target=se_target, min_items=min_items, max_items=max_items, randomesque=randomesque,
                          content_balancing=content_balancing) if adaptive else None
    cat_rules, stored = administration_settings(form, calibrations, rules)  # raises when a scale lacks one
    simulated = [c.bank for c in calibrations.values() if c.simulated]
    warning = (f"\nwarning: the calibration of {', '.join(simulated)} was fitted to SIMULATED data; it shows how the "
               "software works and must not be used to score real people" if simulated else "")
    if rules is None:
        return None, stored, f"IRT scores from the calibration in {source}{warning}"
    plan = AdaptivePlan(form, calibrations, rules)
    sections = ", ".join(f"{s.scale.id} ({len(s.pool)} items)" for s in plan.sections)
    return (cat_rules, stored,
            f"adaptive: {sections}, each by CAT ({rules.describe()}); calibration from {source}{warning}")


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None) -> None:
    """Create or migrate the database schema to the newest version."""
    from rctscale.store import upgrade_database
    from rctscale.store.database import database_url_from_env

    revision = upgrade_database(database)
    url = database_url_from_env(database)
    where = url.split("@")[-1] if "@" in url else url  # never print a password
    typer.echo(f"database {where} is at revision {revision}")
