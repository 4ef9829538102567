"""Read response data (CSV, TSV, XLSX, SPSS .sav) and check them against a form.

One row per respondent, item ids as columns; other columns (id, group, covariates) are
kept. Every problem names the row and the column and says what to do; with
``invalid="missing"`` invalid answers become missing values and are counted instead.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from rctscale.bank import Form
from rctscale.errors import DataError

DEFAULT_MISSING_CODES: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", ".")
SUPPORTED_SUFFIXES = {".csv": "CSV", ".tsv": "TSV", ".tab": "TSV", ".txt": "TSV", ".xlsx": "Excel", ".sav": "SPSS"}


@dataclass(frozen=True)
class CellProblem:
    """One invalid answer: where it is and why."""

    row: str  # how a person finds the row in the file ("line 5", "row 5", "case 5")
    column: str
    respondent: str | None
    value: str
    reason: str

    def describe(self, source: str) -> str:
        who = f" (respondent '{self.respondent}')" if self.respondent is not None else ""
        return f"{source}: {self.row}, column '{self.column}'{who}: {self.reason}"


def read_table(path: str | Path) -> tuple[pd.DataFrame, int, str]:
    """Read a data file as text cells.

    Returns the table, the number of the first data row in the user's terms, and the word
    for a row ("line" for text files, "row" for Excel, "case" for SPSS).
    """
    source = Path(path)
    if not source.exists():
        raise DataError(f"{source}: file not found")
    suffix = source.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(f"{source}: unknown data format '{suffix}'; use .csv, .tsv, .xlsx or .sav")
    try:
        if suffix in (".csv", ".tsv", ".tab", ".txt"):
            return _read_delimited(source, "," if suffix == ".csv" else "\t"), 2, "line"
        if suffix == ".xlsx":
            table = pd.read_excel(source, dtype=object, engine="openpyxl")
            return _cells_as_text(table), 2, "row"
        import pyreadstat

        table, _meta = pyreadstat.read_sav(str(source), user_missing=False)
        return _cells_as_text(table), 1, "case"
    except DataError:
        raise
    except UnicodeDecodeError as error:
        raise DataError(f"{source}: not UTF-8 text ({error.reason} at byte {error.start}); "
                        "save the file as UTF-8 CSV") from None
    except csv.Error as error:
        raise DataError(f"{source}: not a well-formed delimited file: {error}") from None
    except Exception as error:  # noqa: BLE001 - a reader's own error, reported without a traceback
        raise DataError(f"{source}: cannot read the {SUPPORTED_SUFFIXES[suffix]} file: {error}") from None


def _read_delimited(source: Path, delimiter: str) -> pd.DataFrame:
    """Read a CSV/TSV as text cells, refusing rows whose field count differs from the header's."""
    with open(source, newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise DataError(f"{source}: the file is empty; it needs a header row with item ids")
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(f"{source}: line {reader.line_num} has {len(row)} fields but the header has "
                                f"{len(header)}; check for unquoted separators or a missing value")
            rows.append(row)
    return pd.DataFrame(rows, columns=[h.strip() for h in header], dtype=object)


def _cells_as_text(table: pd.DataFrame) -> pd.DataFrame:
    def as_text(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return pd.DataFrame({str(c): [as_text(v) for v in table[c]] for c in table.columns}, dtype=object)


def read_responses(
    path: str | Path,
    form: Form,
    *,
    id_column: str | None = "id",
    missing_codes: tuple[str, ...] | list[str] = DEFAULT_MISSING_CODES,
    invalid: Literal["error", "missing"] = "error",
) -> pd.DataFrame:
    """Read and validate a response file against ``form``.

    Parameters
    ----------
    path : a .csv, .tsv, .xlsx or .sav file; one row per respondent, item ids as columns.
    form : the form the respondents answered (``rs.load_form("research")``).
    id_column : the respondent id column, checked for duplicates when present.
    missing_codes : cell values that mean "not answered" (besides SPSS system missing).
    invalid : ``"error"`` stops at invalid answers; ``"missing"`` turns them into missing
        values and records how many in ``df.attrs["invalid_set_missing"]``.

    Returns
    -------
    DataFrame with the item columns as floats (NaN = not answered) and the other columns as
    text, in the file's order. ``df.attrs`` holds ``source``, ``form`` and ``form_hash``.
    """
    table, first_row, row_word = read_table(path)
    return validate_responses(table, form, source=str(path), first_row=first_row, row_word=row_word,
                              id_column=id_column, missing_codes=missing_codes, invalid=invalid)


def validate_responses(
    table: pd.DataFrame,
    form: Form,
    *,
    source: str = "data",
    first_row: int = 1,
    row_word: str = "row",
    id_column: str | None = "id",
    missing_codes: tuple[str, ...] | list[str] = DEFAULT_MISSING_CODES,
    invalid: Literal["error", "missing"] = "error",
) -> pd.DataFrame:
    """Validate an in-memory table (text or numbers) against ``form``; see :func:`read_responses`."""
    if invalid not in ("error", "missing"):
        raise DataError(f"invalid must be 'error' or 'missing', not {invalid!r}")
    columns = [str(c) for c in table.columns]
    table = table.copy()
    table.columns = columns
    _check_columns(columns, form, source)
    missing = {str(code).strip() for code in missing_codes}

    row_labels = [f"{row_word} {first_row + i}" for i in range(len(table))]
    respondents: list[str | None] = [None] * len(table)
    if id_column and id_column in columns:
        ids = [str(v).strip() for v in table[id_column]]
        respondents = [v if v else None for v in ids]
        seen: dict[str, int] = {}
        for i, respondent in enumerate(ids):
            if not respondent:
                continue
            if respondent in seen:
                raise DataError(f"{source}: {row_labels[i]}, column '{id_column}': respondent id '{respondent}' "
                                f"already appears on {row_labels[seen[respondent]]}; ids must be unique")
            seen[respondent] = i

    problems: list[CellProblem] = []
    item_values: dict[str, np.ndarray] = {}
    for item in form.items:
        if item.id not in columns:
            continue
        allowed = set(item.scale.values)
        parsed = np.full(len(table), np.nan)
        for i, cell in enumerate(table[item.id]):
            text = "" if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell).strip()
            if text in missing:
                continue
            reason = None
            try:
                number = float(text)
            except ValueError:
                reason = f"'{text}' is not a number; answers are {_scale_words(item.scale)}"
            else:
                if not number.is_integer() or int(number) not in allowed:
                    reason = (f"value {text} is outside the response scale {_scale_words(item.scale)}")
            if reason is None:
                parsed[i] = number
            else:
                problems.append(CellProblem(row_labels[i], item.id, respondents[i], text, reason))
        item_values[item.id] = parsed

    if problems and invalid == "error":
        first = problems[0].describe(source)
        more = f" (and {len(problems) - 1} more invalid cells)" if len(problems) > 1 else ""
        raise DataError(f"{first}{more}; fix the data, or pass --invalid missing to treat invalid answers as "
                        "not answered")
    result = pd.DataFrame({
        column: item_values[column] if column in item_values
        else table[column].astype(str).where(table[column].notna(), None).to_numpy()
        for column in columns
    }, index=pd.RangeIndex(len(table)))
    result.attrs.update(source=source, form=form.id, form_hash=form.content_hash,
                        invalid_set_missing=len(problems),
                        invalid_cells=[p.describe(source) for p in problems[:50]])
    return result


def _scale_words(scale) -> str:  # type: ignore[no-untyped-def]
    return f"{scale.minimum} ({scale.options[0].label}) to {scale.maximum} ({scale.options[-1].label})"


def _check_columns(columns: list[str], form: Form, source: str) -> None:
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise DataError(f"{source}: header: column '{duplicated[0]}' appears more than once; rename or drop one")
    form_ids = set(form.item_ids)
    # A column shaped like this form's item ids (same letter prefix, then digits) that the form
    # does not know is almost always a typo or the wrong form, not a covariate.
    prefixes = {re.match(r"[a-z]+", item_id).group(0) for item_id in form_ids if re.match(r"[a-z]+\d", item_id)}
    for column in columns:
        match = re.fullmatch(r"([a-z]+)\d+", column)
        if match and match.group(1) in prefixes and column not in form_ids:
            raise DataError(f"{source}: header: column '{column}' looks like an item id but form '{form.id}' has "
                            "no such item; rename the column, drop it, or choose the right form")
    absent = [item_id for item_id in form.item_ids if item_id not in columns]
    if len(absent) == len(form_ids):
        raise DataError(f"{source}: header: none of form '{form.id}''s item ids appear as columns "
                        f"(expected e.g. {', '.join(form.item_ids[:3])}); is this the right form?")
    if absent:
        raise DataError(f"{source}: header: form '{form.id}' items missing as columns: {', '.join(absent[:8])}"
                        f"{' ...' if len(absent) > 8 else ''}; add the columns (empty if not asked)")


def item_frame(df: pd.DataFrame, form: Form) -> pd.DataFrame:
    """The item columns of a response DataFrame, in the form's order, as floats."""
    return df[[item_id for item_id in form.item_ids if item_id in df.columns]].astype(float)
