"""Typer commands for analysis plans and reports, registered on ``rctscale`` by rctscale.cli.

``rctscale analyze [DATA] --plan PLAN --json results.json`` runs a plan and writes its results;
``rctscale report validation [DATA] --plan PLAN --out reports/NAME.html`` (or ``--results
results.json``, which renders saved results without computing anything) writes the validation
report; ``rctscale report respondent DATA --form F --id ID`` writes a clinician's score report.
Files appear complete or not at all. Long steps (bootstrap, parallel analysis) show a progress bar.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from rctscale.errors import RctscaleError

if TYPE_CHECKING:
    from rctscale.analysis import ProgressCallback

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

report_app = typer.Typer(help="Write HTML reports: the validation report and a respondent's score report.",
                         no_args_is_help=True)

DataArgument = Annotated[Path | None, typer.Argument(
    help="Responses (.csv, .tsv, .xlsx, .sav); default: the plan's data file.", show_default=False)]
PlanOption = Annotated[Path | None, typer.Option(
    "--plan", help="An analysis plan (e.g. analysis/rct_validation.yaml).")]


@contextmanager
def analysis_progress(console: Console | None = None) -> Iterator[ProgressCallback]:
    """A progress bar over the plan's steps, advancing inside long ones (bootstrap draws)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=console or err, transient=True) as progress:
        task = progress.add_task("starting", total=None)

        def update(description: str, completed: float, total: int) -> None:
            if description:
                progress.update(task, description=description, completed=completed, total=total)
            else:
                progress.update(task, completed=completed, total=total)

        yield update


def _write_json(path: Path, results: dict[str, Any]) -> None:
    from rctscale.files import write_text_atomically

    # allow_nan=False: a NaN would make the file unreadable to strict JSON readers; to_plain turned them to null
    write_text_atomically(path, json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False) + "\n")


def _run(plan_path: Path, data: Path | None) -> dict[str, Any]:
    from rctscale.analysis import analyze_file
    from rctscale.plan import load_plan

    plan = load_plan(plan_path)
    with analysis_progress() as progress:
        return analyze_file(plan, data, progress=progress)


def _say_summary(results: dict[str, Any]) -> None:
    for statement in results.get("review", {}).get("statements", []):
        out.print(f"  {statement['status']:>12}  {statement['topic']}", markup=False)
    failed = [name for name, value in results.items() if isinstance(value, dict) and "error" in value]
    for name in failed:
        out.print(f"note: {name} was not computed: {results[name]['error']}", markup=False)


def analyze_command(
    data: DataArgument = None,
    plan: PlanOption = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Where to write the results (JSON).")] = None,
) -> None:
    """Run an analysis plan on a data file and write every result as JSON."""
    if plan is None:
        raise RctscaleError("give the analysis plan with --plan (e.g. --plan analysis/rct_validation.yaml)")
    results = _run(plan, data)
    target = json_path or Path("reports") / f"{results['plan']['name']}-results.json"
    _write_json(target, results)
    out.print(f"ran plan '{results['plan']['name']}' on {results['data']['path']} ({results['sample']['n']} "
              f"respondents, {results['sample']['n_items']} items)", markup=False)
    _say_summary(results)
    out.print(f"wrote results: {target}", markup=False)


@report_app.command("validation")
def validation_command(
    data: DataArgument = None,
    plan: PlanOption = None,
    results_path: Annotated[Path | None, typer.Option(
        "--results", help="Render saved results (from `rctscale analyze`) instead of running a plan.")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="The HTML file (default reports/PLAN.html).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the results as JSON.")] = None,
) -> None:
    """Write the validation report: one self-contained HTML file (plotly embedded, prints well)."""
    from rctscale.files import write_text_atomically
    from rctscale.report.validation import render_validation_report

    if (plan is None) == (results_path is None):
        raise RctscaleError("give either --plan PLAN (run it) or --results RESULTS.json (render saved results)")
    if results_path is not None:
        if data is not None:
            raise RctscaleError("--results renders saved results; the data argument only goes with --plan")
        results = _read_results(results_path)
    else:
        results = _run(plan, data)  # type: ignore[arg-type]
        if json_path is not None:
            _write_json(json_path, results)
            out.print(f"wrote results: {json_path}", markup=False)
    target = out_path or Path("reports") / f"{results['plan']['name']}.html"
    write_text_atomically(target, render_validation_report(results))
    _say_summary(results)
    out.print(f"wrote validation report: {target}", markup=False)


def _read_results(path: Path) -> dict[str, Any]:
    from rctscale.analysis import RESULTS_SCHEMA

    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RctscaleError(f"{path}: results file not found; write one with `rctscale analyze`") from None
    except json.JSONDecodeError as error:
        raise RctscaleError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(results, dict) or results.get("schema") != RESULTS_SCHEMA:
        raise RctscaleError(f"{path}: not rctscale results (expected schema '{RESULTS_SCHEMA}'); write them with "
                            "`rctscale analyze`")
    return results


@report_app.command("respondent")
def respondent_command(
    data: Annotated[Path, typer.Argument(help="Responses (.csv, .tsv, .xlsx, .sav) holding the respondent.")],
    form: Annotated[str, typer.Option("--form", help="The form answered (a name or a path).")],
    respondent_id: Annotated[str, typer.Option("--id", help="The respondent's id.")],
    out_path: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    previous: Annotated[Path | None, typer.Option(
        help="An earlier administration (same columns) to compute the reliable change against.")] = None,
    norms: Annotated[str | None, typer.Option(help="Norm table name or path (default: the form's).")] = None,
    id_column: Annotated[str, typer.Option(help="The column that holds respondent ids.")] = "id",
) -> None:
    """Write a respondent's score report for clinicians: scores with SEM intervals, norms, change, flags."""
    import rctscale as rs
    from rctscale.files import file_hash, write_text_atomically
    from rctscale.report.respondent import render_respondent_report, respondent_report_from_files

    loaded = rs.load_form(form)
    report, current, before = respondent_report_from_files(loaded, data, respondent_id, id_column=id_column,
                                                           previous=previous, norms=norms)
    facts = [("Respondent", respondent_id),
             ("Form", f"{loaded.title} ({loaded.id} {loaded.version}, {loaded.content_hash})"),
             ("Data", f"{data} ({file_hash(data)})")]
    if before is not None:
        facts.append(("Previous administration", f"{previous} ({file_hash(before.path)})"))
    facts.append(("Norms", report.norms_name or "none"))
    previous_label = f"Previous administration: {previous}" if previous is not None else None
    html = render_respondent_report(report, title=f"Score report: respondent {respondent_id}", facts=facts,
                                    previous_label=previous_label,
                                    sample_words=f"respondents in {data.name}")
    write_text_atomically(out_path, html)
    if report.critical:
        err.print(f"note: {len(report.critical)} critical item(s) answered in a worrying way: "
                  f"{', '.join(c['id'] for c in report.critical)}", markup=False)
    out.print(f"wrote score report of respondent '{respondent_id}': {out_path}", markup=False)
