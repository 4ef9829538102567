"""REDCap: a form as a data dictionary, responses as a records import, and a records export back.

Why: many research teams and clinics collect data in REDCap. Uploading the data dictionary written here
builds the form there as one instrument (radio buttons, the referent filled in, a section header per
bank, keying noted in the field annotation); a "CSV (raw data)" records export of that instrument then
comes back as rctscale response data, validated against the form like any other file.

Repeating data: when rows carry ``redcap_repeat_instrument`` equal to the instrument, each repeat is one
response with ``id = <record_id>-<instance>`` and the columns ``record_id`` and ``instance``; a
longitudinal export's ``redcap_event_name`` becomes an ``event`` column and part of the id
(``<record_id>-<event>[-<instance>]``). Other instruments' rows and columns are ignored.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from rctscale.bank import Form, Item, ResponseScale
from rctscale.data import DEFAULT_MISSING_CODES, read_table, validate_responses
from rctscale.errors import DataError
from rctscale.files import write_atomically

DATA_DICTIONARY_COLUMNS: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
RECORD_ID = "record_id"
EVENT = "redcap_event_name"
REPEAT_INSTRUMENT = "redcap_repeat_instrument"
REPEAT_INSTANCE = "redcap_repeat_instance"


# ---------------------------------------------------------------- data dictionary


def choices_string(scale: ResponseScale) -> str:
    """REDCap's choices cell for a response scale: ``1, Never | 2, Rarely | ... | 5, Always``."""
    for option in scale.options:
        if "|" in option.label:
            raise DataError(f"response scale '{scale.id}': label {option.label!r} contains '|', which REDCap reads "
                            "as the end of a choice; change the label")
    return " | ".join(f"{option.value}, {option.label}" for option in scale.options)


def _annotation(item: Item) -> str:
    keying = (f"reverse-keyed: scored as {item.scale.minimum + item.scale.maximum} - answer" if item.reverse
              else "forward-keyed")
    note = f"rctscale item {item.id} (bank {item.bank}, facet {item.facet}); {keying}"
    if item.critical:
        worrying = item.critical_values or item.scale.values[-2:]
        note += f"; critical item: answers {', '.join(str(v) for v in worrying)} need staff attention"
    return note


def data_dictionary(form: Form, *, instrument: str | None = None) -> pd.DataFrame:
    """The form as a REDCap data dictionary: REDCap's 18 columns, one row per field.

    Fields: ``record_id`` (text), a descriptive field with the form's instructions, then one radio field
    per item in the form's order, its label the item text with the referent filled in. The first item of
    each run of one bank carries the bank's title as a section header.
    """
    name = instrument or form.id
    banks = {bank.id: bank for bank in form.banks}
    rows: list[dict[str, str]] = [
        {"Variable / Field Name": RECORD_ID, "Form Name": name, "Field Type": "text", "Field Label": "Record ID"},
    ]
    instructions = form.instructions_text().strip()
    if instructions:
        rows.append({"Variable / Field Name": f"{name}_instructions", "Form Name": name,
                     "Field Type": "descriptive", "Field Label": instructions})
    previous_bank = None
    for item in form.items:
        row = {"Variable / Field Name": item.id, "Form Name": name, "Field Type": "radio",
               "Field Label": item.text_for(form.referent),
               "Choices, Calculations, OR Slider Labels": choices_string(item.scale),
               "Field Annotation": _annotation(item)}
        if item.bank != previous_bank:
            row["Section Header"] = banks[item.bank].title if item.bank in banks else item.bank
            previous_bank = item.bank
        rows.append(row)
    table = pd.DataFrame([[row.get(column, "") for column in DATA_DICTIONARY_COLUMNS] for row in rows],
                         columns=list(DATA_DICTIONARY_COLUMNS), dtype=object)
    return table


def write_data_dictionary(form: Form, path: str | Path, *, instrument: str | None = None) -> Path:
    """Write :func:`data_dictionary` as the UTF-8 CSV REDCap's "Upload Data Dictionary" takes, atomically."""
    table = data_dictionary(form, instrument=instrument)
    return write_atomically(path, lambda tmp: table.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n"))


def data_dictionary_csv(form: Form, *, instrument: str | None = None) -> str:
    """:func:`data_dictionary` as CSV text (for printing to the terminal)."""
    return data_dictionary(form, instrument=instrument).to_csv(index=False, lineterminator="\n")


# ---------------------------------------------------------------- responses -> records import


def responses_to_records(form: Form, responses: pd.DataFrame, *, instrument: str | None = None,
                         id_column: str = "id") -> pd.DataFrame:
    """Response data as a REDCap records import (raw codes), the shape a records export has.

    ``record_id`` comes from a ``record_id`` column when there is one, else from ``id_column``; an
    ``instance`` column makes the instrument repeating (``redcap_repeat_instrument`` / ``_instance``),
    an ``event`` column fills ``redcap_event_name``. ``<instrument>_complete`` is 2 (Complete) when every
    item is answered, else 0 (Incomplete).
    """
    name = instrument or form.id
    validated = validate_responses(responses, form, source="responses", id_column=id_column)
    source_column = RECORD_ID if RECORD_ID in validated.columns else id_column
    if source_column not in validated.columns:
        raise DataError(f"responses: no '{id_column}' or '{RECORD_ID}' column to take REDCap record ids from")
    record_ids = [_text(v) for v in validated[source_column]]
    for row, record_id in enumerate(record_ids):
        if not record_id:
            raise DataError(f"responses: row {row + 1}, column '{source_column}': the record id is empty")
    columns: dict[str, list[str]] = {RECORD_ID: record_ids}
    if "event" in validated.columns:
        columns[EVENT] = [_text(v) for v in validated["event"]]
    if "instance" in validated.columns:
        columns[REPEAT_INSTRUMENT] = [name] * len(validated)
        columns[REPEAT_INSTANCE] = [_text(v) for v in validated["instance"]]
    answers = validated[form.item_ids].to_numpy(dtype=float)
    for index, item_id in enumerate(form.item_ids):
        columns[item_id] = ["" if math.isnan(v) else str(int(v)) for v in answers[:, index]]
    complete = ~pd.isna(answers).any(axis=1) if len(validated) else []
    columns[f"{name}_complete"] = ["2" if done else "0" for done in complete]
    return pd.DataFrame(columns, dtype=object)


def write_records(form: Form, responses: pd.DataFrame, path: str | Path, *, instrument: str | None = None,
                  id_column: str = "id") -> Path:
    """Write :func:`responses_to_records` as a CSV for REDCap's Data Import Tool, atomically."""
    table = responses_to_records(form, responses, instrument=instrument, id_column=id_column)
    return write_atomically(path, lambda tmp: table.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n"))


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ---------------------------------------------------------------- records export -> responses


def read_records(path: str | Path, form: Form, *, instrument: str | None = None, record_id_column: str | None = None,
                 id_column: str = "id", missing_codes: tuple[str, ...] | list[str] = DEFAULT_MISSING_CODES,
                 invalid: Literal["error", "missing"] = "error") -> pd.DataFrame:
    """Read a REDCap records export (CSV, raw codes) of the form's instrument as response data.

    See :func:`records_to_responses`; errors name the file's line and column.
    """
    table, first_row, row_word = read_table(path)
    return records_to_responses(table, form, instrument=instrument, record_id_column=record_id_column,
                                id_column=id_column, source=str(path), first_row=first_row, row_word=row_word,
                                missing_codes=missing_codes, invalid=invalid)


def records_to_responses(table: pd.DataFrame, form: Form, *, instrument: str | None = None,
                         record_id_column: str | None = None, id_column: str = "id", source: str = "records",
                         first_row: int = 2, row_word: str = "line",
                         missing_codes: tuple[str, ...] | list[str] = DEFAULT_MISSING_CODES,
                         invalid: Literal["error", "missing"] = "error") -> pd.DataFrame:
    """A REDCap records table (text cells, as exported) as response data: one row per response.

    Parameters
    ----------
    instrument : the REDCap instrument (form) name; default the form id, as the data dictionary names it.
    record_id_column : the record id field; default ``record_id``, else the first column (REDCap always
        exports the record id first).
    id_column : the name of the id column of the result.
    first_row, row_word : how messages number the rows (line 2 is the first data line of a CSV).

    Returns
    -------
    ``id_column``, then ``record_id`` / ``event`` / ``instance`` when the data are longitudinal or
    repeating, then the form's items as floats (NaN = not answered). ``<instrument>_complete`` and other
    instruments' fields are dropped.
    """
    name = instrument or form.id
    columns = [str(c).strip() for c in table.columns]
    table = table.set_axis(columns, axis=1)
    if not columns:
        raise DataError(f"{source}: the file has no columns; export the records as CSV (raw data)")
    id_field = record_id_column or (RECORD_ID if RECORD_ID in columns else columns[0])
    if id_field not in columns:
        raise DataError(f"{source}: header: no record id column '{id_field}'; name the record id field with "
                        "record_id_column / --record-id")
    _refuse_label_export(table, form, source, first_row, row_word)

    instruments = [_text(v) for v in table[REPEAT_INSTRUMENT]] if REPEAT_INSTRUMENT in columns else [""] * len(table)
    repeating = name in instruments
    selected = [value == name if repeating else value == "" for value in instruments]
    if len(table) and not any(selected):
        found = ", ".join(sorted({v for v in instruments if v})) or "none"
        raise DataError(f"{source}: no rows belong to instrument '{name}' (repeating instruments in the file: "
                        f"{found}); name the instrument with --instrument")
    instances = [_text(v) for v in table[REPEAT_INSTANCE]] if REPEAT_INSTANCE in columns else [""] * len(table)
    events = [_text(v) for v in table[EVENT]] if EVENT in columns else None
    has_instances = any(instances[i] for i in range(len(table)) if selected[i])

    keep = [id_field, *[item_id for item_id in form.item_ids if item_id in columns]]
    validated = validate_responses(table[keep], form, source=source, first_row=first_row, row_word=row_word,
                                   id_column=None, missing_codes=missing_codes, invalid=invalid)
    rows = [i for i in range(len(table)) if selected[i]]
    ids: list[str] = []
    first_line: dict[str, int] = {}
    for i in rows:
        record_id = _text(validated[id_field].iloc[i])
        if not record_id:
            raise DataError(f"{source}: {row_word} {first_row + i}, column '{id_field}': the record id is empty")
        if has_instances and instances[i] and not instances[i].isdigit():
            raise DataError(f"{source}: {row_word} {first_row + i}, column '{REPEAT_INSTANCE}': "
                            f"{instances[i]!r} is not a whole number")
        parts = [record_id, *([events[i]] if events is not None else []), *([instances[i]] if instances[i] else [])]
        respondent = "-".join(part for part in parts if part)
        if respondent in first_line:
            raise DataError(f"{source}: {row_word} {first_row + i}, column '{id_field}': record '{record_id}' "
                            f"appears again (first on {row_word} {first_line[respondent]}) for instrument '{name}'"
                            f"{' and the same event' if events is not None else ''}"
                            f"{' and the same instance' if has_instances else ''}; remove the duplicate row")
        first_line[respondent] = first_row + i
        ids.append(respondent)

    result: dict[str, Any] = {id_column: ids}
    if events is not None or has_instances:
        result[RECORD_ID] = [_text(validated[id_field].iloc[i]) for i in rows]
    if events is not None:
        result["event"] = [events[i] for i in rows]
    if has_instances:
        result["instance"] = pd.array([int(instances[i]) if instances[i] else None for i in rows], dtype="Int64")
    for item_id in form.item_ids:
        result[item_id] = validated[item_id].to_numpy(dtype=float)[rows]
    frame = pd.DataFrame(result, index=pd.RangeIndex(len(rows)))
    frame.attrs.update(validated.attrs)
    frame.attrs.update(redcap_instrument=name, redcap_repeating=repeating)
    return frame


def _refuse_label_export(table: pd.DataFrame, form: Form, source: str, first_row: int, row_word: str) -> None:
    """Stop early, with the fix, when the export has labels instead of raw codes."""
    columns = set(table.columns)
    if not any(item_id in columns for item_id in form.item_ids):
        texts = {item.text_for(form.referent).casefold() for item in form.items}
        if any(str(column).casefold() in texts for column in columns):
            raise DataError(f"{source}: header: the columns are field labels, not variable names; export the "
                            "records again as 'CSV / Microsoft Excel (raw data)'")
        return
    for item in form.items:
        if item.id not in columns:
            continue
        labels = {option.label.casefold(): option.value for option in item.scale.options}
        for i, cell in enumerate(table[item.id]):
            text = _text(cell)
            if text.casefold() in labels:
                raise DataError(f"{source}: {row_word} {first_row + i}, column '{item.id}': {text!r} is an answer "
                                f"label, not its code ({labels[text.casefold()]}); export the records again as "
                                "'CSV / Microsoft Excel (raw data)'")
