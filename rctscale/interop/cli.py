"""The ``rctscale export ...`` and ``rctscale import ...`` commands (FHIR, REDCap, SPSS, Excel).

Two typer apps for the main command to register::

    app.add_typer(export_app, name="export")
    app.add_typer(import_app, name="import")

User mistakes raise :class:`rctscale.errors.RctscaleError`; the main command prints the message and exits 1.
Heavy imports happen inside the commands so that ``rctscale --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from rctscale.errors import RctscaleError

if TYPE_CHECKING:
    import pandas as pd

    from rctscale.bank import Form

export_app = typer.Typer(help="Export a form or responses: FHIR, REDCap, SPSS (.sav), Excel (.xlsx).",
                         no_args_is_help=True)
import_app = typer.Typer(help="Import responses (FHIR, REDCap) or a FHIR Questionnaire.", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

FormArgument = Annotated[str, typer.Argument(help="Form name (intake, research) or path to a form YAML.")]
DataArgument = Annotated[Path, typer.Argument(help="Responses: .csv, .tsv, .xlsx or .sav, one row per respondent.")]
IdColumnOption = Annotated[str, typer.Option("--id-column", help="Respondent id column.")]
InstrumentOption = Annotated[str | None, typer.Option("--instrument", help="REDCap instrument name (default: the "
                                                                            "form id).")]


def _say_written(path: Path, what: str) -> None:
    out.print(f"wrote {what}: {path}", markup=False)


def _write_json(resource: dict[str, Any], out_path: Path | None) -> None:
    from rctscale.files import write_text_atomically

    text = json.dumps(resource, indent=2, ensure_ascii=False) + "\n"
    if out_path is None:
        sys.stdout.write(text)
    else:
        write_text_atomically(out_path, text)


def _invalid_choice(value: str) -> Literal["error", "missing"]:
    if value == "error" or value == "missing":
        return value
    raise RctscaleError(f"--invalid must be 'error' or 'missing', not '{value}'")


def _require_suffix(path: Path, suffixes: tuple[str, ...], option: str) -> None:
    if path.suffix.lower() not in suffixes:
        raise RctscaleError(f"{path}: {option} must end in {' or '.join(suffixes)}")


def _load(form: str, data: Path | None = None, id_column: str = "id") -> tuple[Form, pd.DataFrame]:
    """The form, and the responses in ``data`` read and validated against it (empty without ``data``)."""
    import pandas as pd

    import rctscale as rs

    loaded = rs.load_form(form)
    responses = rs.read_responses(data, loaded, id_column=id_column) if data is not None else pd.DataFrame()
    return loaded, responses


def _export_responses(write: Callable[..., None], form: str, data: Path, out_path: Path, id_column: str, *,
                      suffix: str, what: str, **options: Any) -> None:
    """Check ``out_path``'s suffix, read ``data`` against the form, ``write`` the responses and say so.

    ``write(form, responses, out_path, id_column=..., **options)`` writes the file; ``what`` describes
    it, with ``{n}`` (the number of responses) and ``{form}`` (the form id).
    """
    _require_suffix(out_path, (suffix,), "--out")
    loaded, responses = _load(form, data, id_column)
    write(loaded, responses, out_path, id_column=id_column, **options)
    _say_written(out_path, what.format(n=len(responses), form=loaded.id))


# ---------------------------------------------------------------- export


@export_app.command("fhir")
def export_fhir(
    form: FormArgument,
    out_path: Annotated[Path | None, typer.Option("--out", help="JSON file to write (default: print).")] = None,
) -> None:
    """Export a form as a FHIR R4 Questionnaire (JSON)."""
    from rctscale.interop.fhir import form_to_questionnaire

    loaded, _ = _load(form)
    _write_json(form_to_questionnaire(loaded), out_path)
    if out_path is not None:
        _say_written(out_path, f"FHIR Questionnaire for form '{loaded.id}' ({len(loaded.items)} items)")


@export_app.command("fhir-responses")
def export_fhir_responses(
    form: FormArgument,
    data: DataArgument,
    out_path: Annotated[Path, typer.Option("--out", help="JSON file for the Bundle.")],
    id_column: IdColumnOption = "id",
    amended: Annotated[bool, typer.Option("--amended", help="Mark every response 'amended'.")] = False,
) -> None:
    """Export responses as a FHIR Bundle of QuestionnaireResponse resources."""
    from rctscale.interop.fhir import responses_to_bundle

    loaded, responses = _load(form, data, id_column)
    bundle = responses_to_bundle(loaded, responses, id_column=id_column, amended=amended)
    _write_json(bundle, out_path)
    _say_written(out_path, f"{len(bundle.get('entry', []))} QuestionnaireResponses to form '{loaded.id}'")


@export_app.command("redcap")
def export_redcap(
    form: FormArgument,
    out_path: Annotated[Path | None, typer.Option("--out", help="CSV file to write (default: print).")] = None,
    instrument: InstrumentOption = None,
) -> None:
    """Export a form as a REDCap data dictionary (CSV for "Upload Data Dictionary")."""
    from rctscale.interop.redcap import data_dictionary_csv, write_data_dictionary

    loaded, _ = _load(form)
    if out_path is None:
        sys.stdout.write(data_dictionary_csv(loaded, instrument=instrument))
        return
    write_data_dictionary(loaded, out_path, instrument=instrument)
    _say_written(out_path, f"REDCap data dictionary for form '{loaded.id}' ({len(loaded.items)} items)")


@export_app.command("redcap-records")
def export_redcap_records(
    form: FormArgument,
    data: DataArgument,
    out_path: Annotated[Path, typer.Option("--out", help="CSV file for REDCap's Data Import Tool.")],
    instrument: InstrumentOption = None,
    id_column: IdColumnOption = "id",
) -> None:
    """Export responses as a REDCap records import (raw codes)."""
    from rctscale.interop.redcap import write_records

    _export_responses(write_records, form, data, out_path, id_column, suffix=".csv",
                      what="REDCap records of {n} responses to form '{form}'", instrument=instrument)


@export_app.command("sav")
def export_sav(
    form: FormArgument,
    data: DataArgument,
    out_path: Annotated[Path, typer.Option("--out", help="The .sav file to write.")],
    id_column: IdColumnOption = "id",
) -> None:
    """Export responses as SPSS .sav with variable labels (item texts) and value labels."""
    from rctscale.interop.labelled import write_sav

    _export_responses(write_sav, form, data, out_path, id_column, suffix=".sav",
                      what="SPSS file of {n} responses to form '{form}' with labels")


@export_app.command("xlsx")
def export_xlsx(
    form: FormArgument,
    data: DataArgument,
    out_path: Annotated[Path, typer.Option("--out", help="The .xlsx file to write.")],
    id_column: IdColumnOption = "id",
) -> None:
    """Export responses as .xlsx: sheets 'data', 'variables' (labels) and 'values' (value labels)."""
    from rctscale.interop.labelled import write_xlsx

    _export_responses(write_xlsx, form, data, out_path, id_column, suffix=".xlsx",
                      what="Excel workbook of {n} responses to form '{form}' with labels")


# ---------------------------------------------------------------- import


@import_app.command("fhir")
def import_fhir(
    file: Annotated[Path, typer.Argument(help="A FHIR JSON Bundle of QuestionnaireResponses (or one response).")],
    form: Annotated[str, typer.Option("--form", help="The form the responses answer (name or path).")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the responses (CSV, TSV or XLSX).")],
    id_column: IdColumnOption = "id",
) -> None:
    """Import FHIR QuestionnaireResponses as response data (one row per response)."""
    from rctscale.interop.fhir import bundle_to_responses
    from rctscale.tables import write_table

    loaded, _ = _load(form)
    responses = bundle_to_responses(file, loaded, id_column=id_column)
    write_table(responses, out_path)
    _say_written(out_path, f"{len(responses)} responses to form '{loaded.id}'")
    skipped = responses.attrs.get("fhir_entered_in_error", 0)
    if skipped:
        err.print(f"note: {skipped} response(s) marked entered-in-error were left out", markup=False)
    if not responses.attrs.get("form_version_matches", True):
        err.print(f"note: some responses answered another version of form '{loaded.id}' "
                  f"({', '.join(responses.attrs['fhir_questionnaire_versions'])}); their answers were checked "
                  "against the current form", markup=False)


@import_app.command("fhir-questionnaire")
def import_fhir_questionnaire(
    file: Annotated[Path, typer.Argument(help="A FHIR Questionnaire (JSON).")],
    out_path: Annotated[Path | None, typer.Option("--out", help="YAML file to write (default: print).")] = None,
) -> None:
    """Read a FHIR Questionnaire back into form content (form, items, response scales) as YAML."""
    from rctscale.files import write_text_atomically
    from rctscale.interop.fhir import questionnaire_to_form_content

    content = questionnaire_to_form_content(file)
    text = content.to_yaml()
    if out_path is None:
        sys.stdout.write(text)
    else:
        write_text_atomically(out_path, text)
        _say_written(out_path, f"form '{content.form['form']}' ({len(content.items)} items)")
    if content.skipped:
        err.print(f"note: {len(content.skipped)} item(s) that cannot be scored were left out: "
                  f"{', '.join(content.skipped[:8])}", markup=False)


@import_app.command("redcap")
def import_redcap(
    file: Annotated[Path, typer.Argument(help="A REDCap records export: CSV, raw data.")],
    form: Annotated[str, typer.Option("--form", help="The form the instrument holds (name or path).")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the responses (CSV, TSV or XLSX).")],
    instrument: InstrumentOption = None,
    record_id: Annotated[str | None, typer.Option("--record-id", help="Record id field (default: record_id, "
                                                                      "else the first column).")] = None,
    invalid: Annotated[str, typer.Option(help="'error' stops at invalid answers; 'missing' blanks them.")] = "error",
    missing_codes: Annotated[str, typer.Option(help="Comma-separated codes meaning 'not answered'.")] = ",NA,N/A,.",
) -> None:
    """Import a REDCap records export as response data (one row per record, or per repeat instance)."""
    from rctscale.interop.redcap import read_records
    from rctscale.tables import write_table

    loaded, _ = _load(form)
    responses = read_records(file, loaded, instrument=instrument, record_id_column=record_id,
                             invalid=_invalid_choice(invalid),
                             missing_codes=tuple(missing_codes.split(",")))
    write_table(responses, out_path)
    repeats = " (repeating instrument)" if responses.attrs.get("redcap_repeating") else ""
    _say_written(out_path, f"{len(responses)} responses to form '{loaded.id}'{repeats}")
    count = responses.attrs.get("invalid_set_missing", 0)
    if count:
        err.print(f"note: {count} invalid answer(s) were treated as not answered, e.g. "
                  f"{responses.attrs['invalid_cells'][0]}", markup=False)
