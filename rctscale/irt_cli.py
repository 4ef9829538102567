"""Typer commands for item calibration and adaptive testing, registered on ``rctscale`` by rctscale.cli.

``rctscale calibrate DATA --form FORM`` and ``rctscale cat simulate --bank NAME ...``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rctscale.errors import CalibrationError, RctscaleError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

cat_app = typer.Typer(help="Computerized adaptive testing (CAT) on calibrated banks.", no_args_is_help=True)

# Respondents simulated to calibrate a bank when `cat simulate` is given no calibration.
SIMULATED_CALIBRATION_N = 1000


def calibrate_command(
    data: Annotated[Path, typer.Argument(help="Responses: .csv, .tsv, .xlsx or .sav.")],
    form: Annotated[str, typer.Option("--form", help="The form the data answer (e.g. research).")],
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Directory to write <bank>.yaml into (default: items/calibration beside the banks).")] = None,
    simulated: Annotated[bool, typer.Option(
        "--simulated", help="The data are simulated: the calibration files say so.")] = False,
    invalid: Annotated[str, typer.Option(help="'error' stops at invalid answers; 'missing' blanks them.")] = "error",
    id_column: Annotated[str, typer.Option(help="Respondent id column.")] = "id",
    missing_codes: Annotated[str, typer.Option(help="Comma-separated codes meaning 'not answered'.")] = ",NA,N/A,.",
) -> None:
    """Fit the graded response model to each scale of FORM and write one calibration file per bank."""
    import rctscale as rs
    from rctscale.bank.calibration import calibration_dir
    from rctscale.calibrate import calibrate, write_calibrations
    from rctscale.files import file_hash

    if invalid not in ("error", "missing"):
        raise RctscaleError(f"--invalid must be 'error' or 'missing', not '{invalid}'")
    loaded = rs.load_form(form)
    responses = rs.read_responses(data, loaded, id_column=id_column, invalid=invalid,  # type: ignore[arg-type]
                                  missing_codes=tuple(missing_codes.split(",")))
    run = calibrate(loaded, responses, data=data.name, data_hash=file_hash(data),
                    source="simulated" if simulated else "data")
    for note in run.notes:
        err.print(f"note: {note}", markup=False)
    written = write_calibrations(run.calibrations, out_dir if out_dir is not None else calibration_dir())
    for path, calibration in zip(written, run.calibrations.values(), strict=True):
        scales = ", ".join(f"{s.id} ({len(s.items)} items, n = {s.n}, loglik {s.loglik:.2f})"
                           for s in calibration.scales)
        out.print(f"wrote calibration of bank '{calibration.bank}': {scales}: {path}", markup=False)
    if simulated:
        out.print("these calibrations come from simulated data and say so in their files", markup=False)


@cat_app.command("simulate")
def cat_simulate(
    bank: Annotated[str, typer.Option("--bank", help="Bank name (connection, mutuality, shame).")],
    json_path: Annotated[Path, typer.Option("--json", help="Where to write the figures (JSON).")],
    n: Annotated[int, typer.Option("--n", min=2, help="Simulated respondents.")] = 1000,
    calibration: Annotated[Path | None, typer.Option(
        help="A calibration file or directory; without it the bank is calibrated on a simulated sample.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    scale: Annotated[str | None, typer.Option(
        help="Calibrated scale of the bank (default: the one named like the bank, e.g. shame, not guilt).")] = None,
    form: Annotated[str, typer.Option(help="Form whose simulation model makes the calibration sample.")
                    ] = "research",
    theta: Annotated[str, typer.Option(help="True thetas: 'uniform' on [-3, 3] (the whole range) or 'normal'.")
                     ] = "uniform",
    se_target: Annotated[float, typer.Option(help="Stop when the SE is below this.")] = 0.3,
    min_items: Annotated[int, typer.Option(help="Ask at least this many items.")] = 4,
    max_items: Annotated[int, typer.Option(help="Ask at most this many items.")] = 12,
    randomesque: Annotated[int, typer.Option(help="Draw among this many most informative items.")] = 3,
    content_balancing: Annotated[bool, typer.Option("--content-balancing/--no-content-balancing",
                                                    help="Every facet once before any twice.")] = True,
) -> None:
    """Simulate adaptive tests on one bank: items used, agreement with the full bank, conditional SE."""
    import rctscale as rs
    from rctscale.adaptive import AdaptiveRules, default_scale_of, simulate_bank_cat, simulation_summary
    from rctscale.bank import load_bank
    from rctscale.bank.calibration import load_calibrations
    from rctscale.calibrate import calibrate
    from rctscale.files import write_text_atomically

    if theta not in ("uniform", "normal"):
        raise RctscaleError(f"--theta must be 'uniform' or 'normal', not '{theta}'")
    loaded_bank = load_bank(bank)
    rules = AdaptiveRules(se_target=se_target, min_items=min_items, max_items=max_items, randomesque=randomesque,
                          content_balancing=content_balancing)
    provenance: dict[str, Any]
    if calibration is not None:
        found = load_calibrations(calibration, [loaded_bank], required=True)[loaded_bank.id]
        provenance = {"source": found.source, "path": str(found.path), "data": found.data,
                      "data_hash": found.data_hash, "n": {s.id: s.n for s in found.scales}}
        if found.simulated:
            out.print(f"note: the calibration {found.path} was fitted to simulated data", markup=False)
    else:
        loaded_form = rs.load_form(form)
        sample = rs.simulate(loaded_form, n=SIMULATED_CALIBRATION_N, seed=seed)
        run = calibrate(loaded_form, sample, data=f"rs.simulate(form '{loaded_form.id}', "
                        f"n={SIMULATED_CALIBRATION_N}, seed={seed})", source="simulated", banks=[loaded_bank.id])
        found = run.calibrations[loaded_bank.id]
        provenance = {"source": "simulated", "form": loaded_form.id, "n": SIMULATED_CALIBRATION_N, "seed": seed,
                      "note": "no --calibration given: the bank was calibrated on a sample simulated from the "
                              "form's factor model"}
        out.print(f"no --calibration given: calibrated bank '{loaded_bank.id}' on {SIMULATED_CALIBRATION_N} "
                  f"respondents simulated from form '{loaded_form.id}' (seed {seed}); the figures describe "
                  "simulated items, not a calibration from real answers", markup=False)
    if scale is not None:
        calibrated = found.scale(scale)
    else:
        calibrated = default_scale_of(found)
    if len(calibrated.items) < 2:
        raise CalibrationError(f"scale '{calibrated.id}' has {len(calibrated.items)} item; a CAT needs a bank")
    result = simulate_bank_cat(loaded_bank, calibrated, rules, n=n, seed=seed + 1,
                               theta=theta)  # type: ignore[arg-type]
    summary = simulation_summary(result, bank=loaded_bank, calibrated=calibrated, calibration=provenance,
                                 rules=rules)
    write_text_atomically(json_path, json.dumps(summary, indent=2, default=str) + "\n")
    out.print(f"CAT on bank '{loaded_bank.id}', scale '{calibrated.id}' ({len(calibrated.items)} items; "
              f"{rules.describe()}), {summary['n']} simulated respondents ({theta} theta):", markup=False)
    out.print(f"  mean items {summary['mean_items']:.2f} ({summary['share_of_bank']:.0%} of the bank), "
              f"mean SE {summary['mean_se']:.3f}", markup=False)
    out.print(f"  vs full bank: r = {summary['correlation_full_bank']:.4f}, RMSE = {summary['rmse_full_bank']:.3f}; "
              f"vs true theta: r = {summary['correlation_true']:.4f}, RMSE = {summary['rmse_true']:.3f}",
              markup=False)
    goal = summary["goal"]
    out.print(f"  goal (r >= {goal['correlation_full_bank_at_least']} with at most "
              f"{goal['share_of_bank_at_most']:.0%} of the items): {'met' if goal['met'] else 'NOT met'}",
              markup=False)
    out.print("  by true theta:", markup=False)
    table = result.conditional[["n", "mean_items", "mean_se", "rmse_true", "rmse_full_bank"]]
    out.print(table.to_string(float_format=lambda v: f"{v:.3f}"), markup=False)
    out.print(f"wrote the figures: {json_path}", markup=False)
