"""``rctscale demo``: the main job end to end on a simulated validation sample.

Simulates two groups answering the research form (the clinic group with more shame and
two items that work differently there), validates and scores the data, runs the shipped
analysis plan (``analysis/rct_validation.yaml``) on it, writes the results, the validation
report and one respondent's score report, and tells the user where to look.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from rctscale.files import file_hash, write_text_atomically

DEMO_PLAN = "rct_validation"


@dataclass(frozen=True)
class DemoOutputs:
    data: Path
    scores: Path
    results: Path
    report: Path
    respondent_report: Path
    calibration: Path


def run_demo(*, out_dir: Path, n: int = 800, seed: int = 2026, console: Console | None = None,
             bootstrap: int | None = None) -> DemoOutputs:
    """Simulate, score, run the shipped plan and write the reports; ``bootstrap`` overrides the plan's draws."""
    import dataclasses

    import rctscale as rs
    from rctscale.analysis import analyze_file
    from rctscale.calibrate import calibrate, write_calibrations
    from rctscale.plan import load_plan, shipped_plan_path
    from rctscale.report.cli import analysis_progress
    from rctscale.report.respondent import render_respondent_report, respondent_report_from_files
    from rctscale.report.validation import render_validation_report
    from rctscale.tables import write_table

    console = console or Console()
    plan = load_plan(shipped_plan_path(DEMO_PLAN))
    if bootstrap is not None:
        plan = dataclasses.replace(plan, bootstrap=bootstrap)
    form = plan.form
    shame_items = list(form.scale("shame").items)
    connection_items = list(form.scale("connection").items)
    groups = {
        "community": rs.GroupSpec(),
        "clinic": rs.GroupSpec(factor_means={"shame": 0.5, "connection": -0.3},
                               loadings={connection_items[1]: 0.4},
                               threshold_shift={shame_items[2]: -0.6}),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = DemoOutputs(out_dir / "demo-research-sample.csv", out_dir / "demo-scores.csv",
                        out_dir / "demo-results.json", out_dir / "demo-validation.html",
                        out_dir / "demo-respondent.html", out_dir / "demo-calibration")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("simulating responses", total=None)
        data = rs.simulate(form, n=n, seed=seed, groups=groups, missing_rate=0.002)
        write_table(data, paths.data)
        progress.update(task, description="reading the sample back and checking it against the form")
        responses = rs.read_responses(paths.data, form)
        progress.update(task, description="calibrating the graded response model per scale")
        calibration = calibrate(form, responses, data=paths.data.name, data_hash=file_hash(paths.data),
                                source="simulated")
        write_calibrations(calibration.calibrations, paths.calibration)
        progress.update(task, description="scoring (sums, SEM and IRT theta)")
        write_table(rs.score(form, responses, irt=paths.calibration), paths.scores)
    with analysis_progress(console) as update:
        results = analyze_file(plan, paths.data, progress=update)
    write_text_atomically(paths.results, json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    write_text_atomically(paths.report, render_validation_report(results))
    # One clinic respondent's score report, as a clinician would print it.
    clinic_id = str(responses.loc[responses["group"] == "clinic", "id"].iloc[0])
    report, _current, _before = respondent_report_from_files(form, paths.data, clinic_id)
    write_text_atomically(paths.respondent_report, render_respondent_report(
        report, title=f"Score report: respondent {clinic_id} (simulated)",
        facts=[("Respondent", clinic_id), ("Form", f"{form.title} ({form.id} {form.version})"),
               ("Data", str(paths.data))], sample_words=f"respondents in {paths.data.name}"))
    console.print(f"Simulated {n} respondents (two groups) answering the '{form.id}' form "
                  f"({len(form.items)} items) and ran the plan '{plan.name}' ({plan.path}).", markup=False)
    for statement in results["review"]["statements"]:
        console.print(f"  {statement['status']:>12}  {statement['topic']}", markup=False)
    failed = [name for name, value in results.items() if isinstance(value, dict) and "error" in value]
    for name in failed:
        console.print(f"note: {name} was not computed: {results[name]['error']}", markup=False)
    console.print("Wrote:", markup=False)
    for label, path in (("sample", paths.data), ("IRT calibration", paths.calibration), ("scores", paths.scores),
                        ("results (JSON)", paths.results), ("validation report", paths.report),
                        ("respondent report", paths.respondent_report)):
        console.print(f"  {label:18} {path}", markup=False)
    console.print(f"Open the report in a browser: file://{paths.report.resolve()}", markup=False)
    return paths


def serve_after_demo(*, port: int) -> None:
    """Start the web form (a public administration of the research form when there is none)."""
    from rctscale.web import serve

    serve(port=port)
