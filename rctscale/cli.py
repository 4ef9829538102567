"""The ``rctscale`` command.

User mistakes end in one clear message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rctscale.errors import RctscaleError

app = typer.Typer(help="Item banks, administration and psychometrics for relational-cultural theory.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
bank_app = typer.Typer(help="Check and show item banks.", no_args_is_help=True)
norms_app = typer.Typer(help="Build norm tables.", no_args_is_help=True)
app.add_typer(bank_app, name="bank")
app.add_typer(norms_app, name="norms")


def _register_subcommands() -> None:
    """Commands that live beside their own part of the architecture."""
    from rctscale.interop.cli import export_app, import_app
    from rctscale.irt_cli import calibrate_command, cat_app
    from rctscale.report.cli import analyze_command, report_app
    from rctscale.web.cli import administration_app, db_app, serve_command, user_app

    app.add_typer(export_app, name="export", help="Export forms and responses (FHIR, REDCap, SPSS, Excel).")
    app.add_typer(import_app, name="import", help="Import responses (FHIR, REDCap).")
    app.command("serve")(serve_command)
    app.add_typer(user_app, name="user")
    app.add_typer(administration_app, name="administration")
    app.add_typer(db_app, name="db")
    app.command("analyze")(analyze_command)
    app.add_typer(report_app, name="report")
    app.command("calibrate")(calibrate_command)
    app.add_typer(cat_app, name="cat")


_register_subcommands()

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _say_written(path: Path, what: str) -> None:
    out.print(f"wrote {what}: {path}", markup=False)


@bank_app.command("validate")
def bank_validate(
    path: Annotated[Path | None, typer.Argument(help="An items directory or one bank/form file.")] = None,
) -> None:
    """Validate every response scale, bank and form (or one file)."""
    from rctscale.bank import load_bank, load_form, validate_items_dir

    if path is not None and path.is_file():
        if path.parent.name == "forms":
            form = load_form(path)
            out.print(f"ok: form '{form.id}' ({len(form.items)} items, {form.content_hash})", markup=False)
        else:
            bank = load_bank(path)
            out.print(f"ok: bank '{bank.id}' ({len(bank.items)} items, {bank.content_hash})", markup=False)
        return
    if path is not None and not path.exists():
        raise RctscaleError(f"{path}: no such file or directory")
    notes = validate_items_dir(path)
    from rctscale.bank import bank_paths, form_paths

    out.print(f"ok: {len(bank_paths(path))} banks and {len(form_paths(path))} forms are valid", markup=False)
    for note in notes:
        out.print(f"note: {note}", markup=False)


@bank_app.command("show")
def bank_show(name: Annotated[str, typer.Argument(help="A bank name (connection, mutuality, shame) or a path.")]
              ) -> None:
    """Show a bank: construct, facets and items."""
    from rctscale.bank import load_bank

    bank = load_bank(name)
    out.print(f"[bold]{bank.title}[/bold] ({bank.id} {bank.version}, {len(bank.items)} items)")
    out.print(f"content hash: {bank.content_hash}", markup=False)
    out.print(bank.construct, markup=False)
    scale = ", ".join(f"{o.value} {o.label}" for o in bank.scale.options)
    out.print(f"response scale: {scale}", markup=False)
    for facet in bank.facets:
        table = Table(title=f"{facet.name} ({facet.id}) - {facet.source}", title_justify="left", show_lines=False)
        table.add_column("id")
        table.add_column("text")
        table.add_column("keying")
        table.add_column("flags")
        for item in bank.items:
            if item.facet == facet.id:
                flags = ", ".join(f for f in (item.status, "critical" if item.critical else "", item.direction or "")
                                  if f)
                table.add_row(item.id, item.text, "reverse" if item.reverse else "+", flags)
        out.print(table)


@app.command("simulate")
def simulate_command(
    form: Annotated[str, typer.Argument(help="Form name (intake, research) or path.")],
    out_path: Annotated[Path, typer.Option("--out", help="CSV, TSV or XLSX file to write.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Respondents.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    groups: Annotated[int, typer.Option(help="Split into this many groups (a 'group' column).")] = 1,
    missing_rate: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of answers left out.")] = 0.0,
) -> None:
    """Simulate a sample of responses to a form from its stated factor model."""
    import rctscale as rs
    from rctscale.tables import write_table

    loaded = rs.load_form(form)
    group_specs = {f"g{k + 1}": rs.GroupSpec() for k in range(groups)} if groups > 1 else None
    data = rs.simulate(loaded, n=n, seed=seed, groups=group_specs, missing_rate=missing_rate)
    write_table(data, out_path)
    _say_written(out_path, f"{len(data)} simulated respondents to form '{loaded.id}'")


@app.command("score")
def score_command(
    form: Annotated[str, typer.Argument(help="Form name or path.")],
    data: Annotated[Path, typer.Argument(help="Responses: .csv, .tsv, .xlsx or .sav.")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the scores (CSV, TSV or XLSX).")],
    norms: Annotated[str | None, typer.Option(help="Norm table name or path (default: the form's).")] = None,
    invalid: Annotated[str, typer.Option(help="'error' stops at invalid answers; 'missing' blanks them.")] = "error",
    id_column: Annotated[str, typer.Option(help="Respondent id column.")] = "id",
    missing_codes: Annotated[str, typer.Option(help="Comma-separated codes meaning 'not answered'.")] = ",NA,N/A,.",
    irt: Annotated[Path | None, typer.Option(help="Item calibrations (directory or file): add EAP theta, its SE "
                                                  "and the IRT T-score per calibrated scale.")] = None,
) -> None:
    """Score a response file: sums, means, prorating, SEM, T-scores and percentiles (and IRT with --irt)."""
    import rctscale as rs
    from rctscale.tables import write_table

    loaded = rs.load_form(form)
    responses = rs.read_responses(data, loaded, id_column=id_column, invalid=_invalid_choice(invalid),
                                  missing_codes=tuple(missing_codes.split(",")))
    _report_invalid(responses)
    scores = rs.score(loaded, responses, norms=norms, irt=irt)
    write_table(scores, out_path)
    _say_written(out_path, f"scores of {len(scores)} respondents on {len(loaded.scored_scales())} scales")


def _invalid_choice(value: str) -> str:
    if value not in ("error", "missing"):
        raise RctscaleError(f"--invalid must be 'error' or 'missing', not '{value}'")
    return value


def _report_invalid(responses) -> None:  # type: ignore[no-untyped-def]
    count = responses.attrs.get("invalid_set_missing", 0)
    if count:
        err.print(f"note: {count} invalid answer(s) were treated as not answered, e.g. "
                  f"{responses.attrs['invalid_cells'][0]}", markup=False)


@norms_app.command("build")
def norms_build(
    data: Annotated[Path, typer.Argument(help="A norm sample: .csv, .tsv, .xlsx or .sav.")],
    form: Annotated[str, typer.Option("--form", help="Form name or path.")],
    name: Annotated[str | None, typer.Option(help="Norm table name (default: FORM_DATA).")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Where to write (default items/norms/NAME.yaml).")
                        ] = None,
    invalid: Annotated[str, typer.Option(help="'error' or 'missing'.")] = "error",
) -> None:
    """Build a norm table (mean, SD, percentiles per scale) from a sample."""
    import rctscale as rs
    from rctscale.bank import default_items_dir
    from rctscale.files import file_hash, write_text_atomically

    loaded = rs.load_form(form)
    responses = rs.read_responses(data, loaded, invalid=_invalid_choice(invalid))
    _report_invalid(responses)
    table_name = name or f"{loaded.id}_{data.stem}"
    norms = rs.build_norms(loaded, responses, name=table_name, data_hash=file_hash(data))
    target = out_path or default_items_dir() / "norms" / f"{table_name}.yaml"
    write_text_atomically(target, norms.to_yaml())
    _say_written(target, f"norm table '{table_name}' (n = {len(responses)}, {len(norms.scales)} scales)")
    out.print(f"use it with: rctscale score {loaded.id} DATA --norms {target} --out scores.csv", markup=False)


@app.command("demo")
def demo_command(
    out_dir: Annotated[Path, typer.Option(help="Where the report is written.")] = Path("reports"),
    n: Annotated[int, typer.Option(min=50, help="Simulated respondents.")] = 800,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2026,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the web form afterwards.")] = True,
    port: Annotated[int, typer.Option(help="Port for the web form.")] = 8000,
) -> None:
    """Simulate a validation sample, run every analysis, write a report, then serve."""
    from rctscale.demo import run_demo, serve_after_demo

    run_demo(out_dir=out_dir, n=n, seed=seed, console=out)
    if serve:
        serve_after_demo(port=port)


def main() -> None:
    """Entry point: run the command, turning user errors into one message and exit 1."""
    # typer handles usage errors itself (exit 2); our own errors propagate out of app().
    try:
        app()
    except RctscaleError as error:
        err.print(f"error: {error}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
