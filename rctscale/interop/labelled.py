"""Labelled response data: SPSS ``.sav`` and Excel ``.xlsx`` that carry the form's wording with the numbers.

Why: a researcher who opens the data in SPSS, jamovi, R (haven) or Excel should see what ``con31 = 4``
means without the item bank at hand. Each item column gets a variable label (the item text with the
referent filled in) and value labels (1 = Never ... 5 = Always).

- ``.sav`` (via pyreadstat): variable labels, value labels, measurement levels (items ordinal), the form's
  title as the file label and its id and content hash as a file note.
- ``.xlsx`` (via openpyxl): sheet ``data`` (one row per respondent), sheet ``variables`` (variable, label,
  measure) and sheet ``values`` (variable, value, label).

Reading either back validates the data against the form and returns the labels in
``df.attrs["variable_labels"]`` (variable -> label) and ``df.attrs["value_labels"]``
(variable -> {code: label}). When the file labels a code differently from the form (1 = Always where the
form says 1 = Never) the coding differs and the import stops, since scoring it would silently reverse
the answers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from rctscale.bank import Form
from rctscale.data import DEFAULT_MISSING_CODES, read_table, validate_responses
from rctscale.errors import DataError
from rctscale.files import write_atomically

DATA_SHEET = "data"
VARIABLES_SHEET = "variables"
VALUES_SHEET = "values"
ID_LABEL = "Respondent id"


def variable_labels(form: Form, columns: list[str] | None = None, *, id_column: str = "id") -> dict[str, str]:
    """Variable -> label: each item's text with the referent filled in, and the id column's label."""
    labels = {item.id: item.text_for(form.referent) for item in form.items}
    if columns is not None:
        labels = {column: labels[column] for column in columns if column in labels}
        if id_column in columns:
            labels = {id_column: ID_LABEL, **labels}
    return labels


def value_labels(form: Form) -> dict[str, dict[int, str]]:
    """Item -> {answer code: answer label}, from each item's response scale."""
    return {item.id: {option.value: option.label for option in item.scale.options} for item in form.items}


def _measure(form: Form, column: str) -> str:
    return "ordinal" if column in form.item_ids else "nominal"


# ---------------------------------------------------------------- SPSS


def write_sav(form: Form, responses: pd.DataFrame, path: str | Path, *, id_column: str = "id") -> Path:
    """Write response data as an SPSS ``.sav`` file with variable and value labels, atomically.

    The data are validated against the form first; other columns (id, group) are written as they are.
    """
    import pyreadstat

    validated = validate_responses(responses, form, source="responses", id_column=id_column)
    columns = [str(c) for c in validated.columns]
    labels = variable_labels(form, columns, id_column=id_column)
    values = {column: {float(code): label for code, label in codes.items()}
              for column, codes in value_labels(form).items() if column in columns}
    measures = {column: _measure(form, column) for column in columns}
    frame = validated.astype({c: object for c in columns if c not in form.item_ids})

    def write(tmp: Path) -> None:
        try:
            pyreadstat.write_sav(frame, str(tmp), file_label=form.title[:64],
                                 column_labels={c: labels.get(c) for c in columns},
                                 variable_value_labels=values, variable_measure=measures,
                                 note=[f"rctscale form: {form.id}", "form content hash:", form.content_hash])
        except Exception as error:  # noqa: BLE001 - pyreadstat's own message, reported without a traceback
            raise DataError(f"{path}: cannot write the SPSS file: {error} (SPSS variable names start with a "
                            "letter and hold letters, digits and underscores only)") from None

    return write_atomically(path, write)


def read_sav(path: str | Path, form: Form, *, id_column: str | None = "id",
             missing_codes: tuple[str, ...] | list[str] = DEFAULT_MISSING_CODES,
             invalid: Literal["error", "missing"] = "error", check_labels: bool = True) -> pd.DataFrame:
    """Read an SPSS ``.sav`` file against the form, keeping its variable and value labels in ``df.attrs``."""
    import pyreadstat

    source = Path(path)
    table, first_row, row_word = read_table(source)
    try:
        _empty, meta = pyreadstat.read_sav(str(source), metadataonly=True)
    except Exception as error:  # noqa: BLE001 - pyreadstat's own message, reported without a traceback
        raise DataError(f"{source}: cannot read the SPSS labels: {error}") from None
    file_variable_labels = {str(k): str(v) for k, v in (meta.column_names_to_labels or {}).items() if v}
    file_value_labels = {str(var): {_code(code): str(label) for code, label in codes.items()}
                         for var, codes in (meta.variable_value_labels or {}).items()}
    return _validated_with_labels(table, form, str(source), first_row, row_word, id_column, missing_codes, invalid,
                                  file_variable_labels, file_value_labels, check_labels, "SPSS")


def _code(code: Any) -> Any:
    if isinstance(code, float) and code.is_integer():
        return int(code)
    return code


# ---------------------------------------------------------------- Excel


def write_xlsx(form: Form, responses: pd.DataFrame, path: str | Path, *, id_column: str = "id") -> Path:
    """Write response data as ``.xlsx``: a ``data`` sheet, a ``variables`` sheet and a ``values`` sheet."""
    validated = validate_responses(responses, form, source="responses", id_column=id_column)
    columns = [str(c) for c in validated.columns]
    labels = variable_labels(form, columns, id_column=id_column)
    variables = pd.DataFrame({"variable": columns, "label": [labels.get(c, "") for c in columns],
                              "measure": [_measure(form, c) for c in columns]})
    codes = value_labels(form)
    rows = [(column, code, label) for column in columns for code, label in codes.get(column, {}).items()]
    values = pd.DataFrame(rows, columns=["variable", "value", "label"])

    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            validated.to_excel(writer, sheet_name=DATA_SHEET, index=False)
            variables.to_excel(writer, sheet_name=VARIABLES_SHEET, index=False)
            values.to_excel(writer, sheet_name=VALUES_SHEET, index=False)
            for sheet in writer.sheets.values():
                sheet.freeze_panes = "A2"

    return write_atomically(path, write)


def read_xlsx(path: str | Path, form: Form, *, id_column: str | None = "id",
              missing_codes: tuple[str, ...] | list[str] = DEFAULT_MISSING_CODES,
              invalid: Literal["error", "missing"] = "error", check_labels: bool = True) -> pd.DataFrame:
    """Read an ``.xlsx`` written by :func:`write_xlsx` (or laid out the same way), labels in ``df.attrs``.

    A workbook without ``variables`` / ``values`` sheets is read from its ``data`` sheet (or its first
    sheet) with empty labels.
    """
    source = Path(path)
    if not source.exists():
        raise DataError(f"{source}: file not found")
    try:
        sheets = pd.read_excel(source, sheet_name=None, dtype=object, engine="openpyxl")
    except Exception as error:  # noqa: BLE001 - openpyxl's own message, reported without a traceback
        raise DataError(f"{source}: cannot read the Excel file: {error}") from None
    data = sheets.get(DATA_SHEET, next(iter(sheets.values())) if sheets else None)
    if data is None:
        raise DataError(f"{source}: the workbook has no sheets")
    table = pd.DataFrame({str(c): [_cell_text(v) for v in data[c]] for c in data.columns}, dtype=object)
    file_variable_labels: dict[str, str] = {}
    file_value_labels: dict[str, dict[Any, str]] = {}
    variables = sheets.get(VARIABLES_SHEET)
    if variables is not None:
        _require_columns(variables, ("variable", "label"), source, VARIABLES_SHEET)
        for offset, (variable, label) in enumerate(zip(variables["variable"], variables["label"], strict=True)):
            if not _cell_text(variable):
                raise DataError(f"{source}: sheet '{VARIABLES_SHEET}', row {offset + 2}: the variable name is empty")
            if _cell_text(label):
                file_variable_labels[_cell_text(variable)] = _cell_text(label)
    values = sheets.get(VALUES_SHEET)
    if values is not None:
        _require_columns(values, ("variable", "value", "label"), source, VALUES_SHEET)
        for offset, (variable, code, label) in enumerate(zip(values["variable"], values["value"], values["label"],
                                                             strict=True)):
            text = _cell_text(code)
            try:
                number: Any = int(float(text))
            except ValueError:
                raise DataError(f"{source}: sheet '{VALUES_SHEET}', row {offset + 2}, column 'value': {text!r} is "
                                "not a number") from None
            file_value_labels.setdefault(_cell_text(variable), {})[number] = _cell_text(label)
    return _validated_with_labels(table, form, str(source), 2, "row", id_column, missing_codes, invalid,
                                  file_variable_labels, file_value_labels, check_labels, "Excel")


def _require_columns(sheet: pd.DataFrame, names: tuple[str, ...], source: Path, sheet_name: str) -> None:
    missing = [name for name in names if name not in [str(c) for c in sheet.columns]]
    if missing:
        raise DataError(f"{source}: sheet '{sheet_name}': header lacks {', '.join(repr(m) for m in missing)}; "
                        f"the sheet needs the columns {', '.join(names)}")


def _cell_text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------- shared


def read_labelled(path: str | Path, form: Form, **options: Any) -> pd.DataFrame:
    """Read a ``.sav`` or ``.xlsx`` file with its labels (see :func:`read_sav` and :func:`read_xlsx`)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".sav":
        return read_sav(path, form, **options)
    if suffix == ".xlsx":
        return read_xlsx(path, form, **options)
    raise DataError(f"{path}: labelled data are read from .sav or .xlsx files, not '{suffix}'")


def _validated_with_labels(table: pd.DataFrame, form: Form, source: str, first_row: int, row_word: str,
                           id_column: str | None, missing_codes: tuple[str, ...] | list[str],
                           invalid: Literal["error", "missing"], file_variable_labels: dict[str, str],
                           file_value_labels: dict[str, dict[Any, str]], check_labels: bool,
                           kind: str) -> pd.DataFrame:
    if check_labels:
        _check_value_labels(form, file_value_labels, source)
    result = validate_responses(table, form, source=source, first_row=first_row, row_word=row_word,
                                id_column=id_column, missing_codes=missing_codes, invalid=invalid)
    columns = [str(c) for c in result.columns]
    result.attrs.update(variable_labels={c: file_variable_labels[c] for c in columns if c in file_variable_labels},
                        value_labels={c: dict(file_value_labels[c]) for c in columns if c in file_value_labels},
                        labelled_format=kind)
    return result


def _check_value_labels(form: Form, file_value_labels: dict[str, dict[Any, str]], source: str) -> None:
    """Refuse a file whose value labels give a form item's codes other meanings."""
    for item in form.items:
        codes = file_value_labels.get(item.id)
        if not codes:
            continue
        for code, label in codes.items():
            if not isinstance(code, int) or code not in item.scale.values:
                continue
            expected = item.scale.label_of(code)
            if label.strip().casefold() != expected.casefold():
                raise DataError(f"{source}: variable '{item.id}': code {code} is labelled {label!r} in the file "
                                f"but {expected!r} in form '{form.id}'; the file's coding differs from the form's. "
                                "Recode the answers, or pass check_labels=False if only the wording of the labels "
                                "differs")
