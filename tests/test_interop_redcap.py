"""REDCap: data dictionary, records import and export, repeating instruments, longitudinal events."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import rctscale as rs
from rctscale.errors import DataError
from rctscale.interop import redcap
from rctscale.interop.cli import export_app, import_app

# REDCap's data dictionary header, copied from a dictionary downloaded from REDCap.
REDCAP_HEADERS = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?",
    "Field Annotation",
]
CHOICES = "1, Never | 2, Rarely | 3, Sometimes | 4, Often | 5, Always"


def read_dictionary(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    return header, rows


@pytest.mark.parametrize("form_name", ["intake", "research"])
def test_data_dictionary_has_redcap_headers_and_one_radio_field_per_item(form_name: str, tmp_path: Path) -> None:
    form = rs.load_form(form_name)
    path = redcap.write_data_dictionary(form, tmp_path / "dictionary.csv")
    header, rows = read_dictionary(path)
    assert header == REDCAP_HEADERS
    assert rows[0]["Variable / Field Name"] == "record_id" and rows[0]["Field Type"] == "text"
    assert rows[1]["Field Type"] == "descriptive" and "in the past" in rows[1]["Field Label"]
    items = rows[2:]
    assert [r["Variable / Field Name"] for r in items] == form.item_ids
    assert {r["Form Name"] for r in rows} == {form.id}
    assert {r["Field Type"] for r in items} == {"radio"}
    assert {r["Choices, Calculations, OR Slider Labels"] for r in items} == {CHOICES}
    assert [r["Field Label"] for r in items] == [item.text_for(form.referent) for item in form.items]
    headed = [(r["Variable / Field Name"], r["Section Header"]) for r in items if r["Section Header"]]
    first_of_bank = {}
    for item in form.items:
        first_of_bank.setdefault(item.bank, item.id)
    titles = {bank.id: bank.title for bank in form.banks}
    assert headed == [(item_id, titles[bank]) for bank, item_id in first_of_bank.items()]
    for row, item in zip(items, form.items, strict=True):
        annotation = row["Field Annotation"]
        assert ("reverse-keyed: scored as 6 - answer" in annotation) == item.reverse, item.id
        assert f"facet {item.facet}" in annotation


def test_data_dictionary_marks_critical_items_and_takes_an_instrument_name() -> None:
    form = rs.load_form("intake")
    table = redcap.data_dictionary(form, instrument="rct_intake")
    assert set(table["Form Name"]) == {"rct_intake"}
    critical = table[table["Field Annotation"].str.contains("critical item")]["Variable / Field Name"].tolist()
    assert critical == [item.id for item in form.items if item.critical]
    assert redcap.choices_string(form.items[0].scale) == CHOICES


@pytest.mark.parametrize("form_name", ["intake", "research"])
def test_responses_round_trip_through_a_records_csv(form_name: str, tmp_path: Path) -> None:
    form = rs.load_form(form_name)
    data = rs.simulate(form, n=80, seed=21, missing_rate=0.05)
    path = redcap.write_records(form, data, tmp_path / "records.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(raw.columns) == ["record_id", *form.item_ids, f"{form.id}_complete"]
    complete = data[form.item_ids].notna().all(axis=1)
    assert raw[f"{form.id}_complete"].tolist() == ["2" if done else "0" for done in complete]
    assert set(raw[form.item_ids[0]]) <= {"", "1", "2", "3", "4", "5"}
    back = redcap.read_records(path, form)
    pd.testing.assert_frame_equal(back, data)


def records_csv(text: str, tmp_path: Path, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def intake_header(extra: str = "") -> str:
    return ",".join(["record_id", *(["redcap_event_name"] if extra == "events" else []), "redcap_repeat_instrument",
                     "redcap_repeat_instance", "age", *rs.load_form("intake").item_ids, "intake_complete"])


def answers(values: list[int | str]) -> str:
    return ",".join(str(v) for v in values)


def test_repeating_instrument_gives_one_row_per_instance(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    blank = [""] * len(form.items)
    lines = [
        intake_header(),
        ",".join(["1", "", "", "34", answers(blank), ""]),        # record 1's base row (demographics)
        ",".join(["1", "intake", "1", "", answers([3] * 18), "2"]),
        ",".join(["1", "intake", "2", "", answers([4] * 17 + [""]), "0"]),
        ",".join(["2", "", "", "51", answers(blank), ""]),
        ",".join(["2", "intake", "1", "", answers([1, 2, 3, 4, 5, 1] * 3), "2"]),
        ",".join(["3", "visits", "1", "", answers(blank), ""]),   # another repeating instrument
    ]
    back = redcap.read_records(records_csv("\n".join(lines) + "\n", tmp_path), form)
    assert back["id"].tolist() == ["1-1", "1-2", "2-1"]
    assert back["record_id"].tolist() == ["1", "1", "2"]
    assert back["instance"].tolist() == [1, 2, 1] and str(back["instance"].dtype) == "Int64"
    assert back.loc[0, form.item_ids].tolist() == [3.0] * 18
    assert pd.isna(back.loc[1, "sha10"]) and back.loc[1, "con03"] == 4.0
    assert back.loc[2, form.item_ids].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 1.0] * 3
    assert "age" not in back.columns and "intake_complete" not in back.columns
    assert back.attrs["redcap_repeating"] is True


def test_repeating_responses_round_trip(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=6, seed=8, missing_rate=0.05)
    record_ids = pd.Series(["a", "a", "a", "b", "b", "c"], dtype="str")
    instances = pd.array([1, 2, 3, 1, 2, 1], dtype="Int64")
    data = pd.concat([pd.DataFrame({"id": [f"{r}-{i}" for r, i in zip(record_ids, instances, strict=True)],
                                    "record_id": record_ids, "instance": instances}),
                      data[form.item_ids]], axis=1)
    path = redcap.write_records(form, data, tmp_path / "records.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw["redcap_repeat_instrument"].tolist() == ["intake"] * 6
    assert raw["redcap_repeat_instance"].tolist() == ["1", "2", "3", "1", "2", "1"]
    pd.testing.assert_frame_equal(redcap.read_records(path, form), data)


def test_longitudinal_export_puts_the_event_in_the_id(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    lines = [
        intake_header("events"),
        ",".join(["7", "baseline_arm_1", "", "", "29", answers([2] * 18), "2"]),
        ",".join(["7", "month_3_arm_1", "", "", "", answers([3] * 18), "2"]),
    ]
    back = redcap.read_records(records_csv("\n".join(lines) + "\n", tmp_path), form)
    assert back["id"].tolist() == ["7-baseline_arm_1", "7-month_3_arm_1"]
    assert back["event"].tolist() == ["baseline_arm_1", "month_3_arm_1"]
    assert back["record_id"].tolist() == ["7", "7"]
    assert back["con03"].tolist() == [2.0, 3.0]


def test_a_value_outside_the_scale_names_the_line_and_the_field(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    lines = ["record_id," + ",".join(form.item_ids), "1," + answers([3] * 18), "2," + answers([3] * 5 + [9] + [3] * 12)]
    with pytest.raises(DataError, match=r"export.csv: line 3, column 'con32'.*value 9 is outside the response scale"):
        redcap.read_records(records_csv("\n".join(lines) + "\n", tmp_path), form)


def test_a_label_export_is_refused_with_the_fix(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    lines = ["record_id," + ",".join(form.item_ids), "1," + answers(["Never"] + [3] * 17)]
    with pytest.raises(DataError, match=r"line 2, column 'con03': 'Never' is an answer label.*raw data"):
        redcap.read_records(records_csv("\n".join(lines) + "\n", tmp_path), form)
    labels_header = ["Record ID", *(f'"{item.text_for(form.referent)}"' for item in form.items)]
    with pytest.raises(DataError, match="the columns are field labels, not variable names"):
        redcap.read_records(records_csv(",".join(labels_header) + "\n1," + answers([3] * 18) + "\n", tmp_path,
                                        "labels.csv"), form)


def test_a_duplicate_record_names_both_lines(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    lines = ["record_id," + ",".join(form.item_ids), *(f"{r}," + answers([3] * 18) for r in ("1", "2", "1"))]
    with pytest.raises(DataError, match=r"line 4, column 'record_id': record '1' appears again \(first on line 2\)"):
        redcap.read_records(records_csv("\n".join(lines) + "\n", tmp_path), form)


def test_a_missing_item_column_and_an_unknown_instrument_are_refused(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    short = ["record_id," + ",".join(form.item_ids[:-1]), "1," + answers([3] * 17)]
    with pytest.raises(DataError, match="items missing as columns: sha10"):
        redcap.read_records(records_csv("\n".join(short) + "\n", tmp_path), form)
    repeating = [intake_header(), ",".join(["1", "intake", "1", "", answers([3] * 18), "2"])]
    with pytest.raises(DataError, match=r"no rows belong to instrument 'rct_intake'.*: intake\)"):
        redcap.read_records(records_csv("\n".join(repeating) + "\n", tmp_path, "r.csv"), form,
                            instrument="rct_intake")


def test_records_with_a_differently_named_record_id_field(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    lines = ["study_id," + ",".join(form.item_ids), "S-01," + answers([3] * 18), "S-02," + answers([2] * 18)]
    back = redcap.read_records(records_csv("\n".join(lines) + "\n", tmp_path), form)
    assert back["id"].tolist() == ["S-01", "S-02"]


def test_redcap_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(export_app, ["redcap", "intake"])
    assert printed.exit_code == 0, printed.output
    rows = list(csv.reader(io.StringIO(printed.stdout)))
    assert rows[0] == REDCAP_HEADERS and len(rows) == 1 + 2 + 18

    form = rs.load_form("intake")
    data = rs.simulate(form, n=15, seed=6, missing_rate=0.05)
    data_path = tmp_path / "data.csv"
    data.to_csv(data_path, index=False)
    records = tmp_path / "records.csv"
    exported = runner.invoke(export_app, ["redcap-records", "intake", str(data_path), "--out", str(records)])
    assert exported.exit_code == 0, exported.output
    back_path = tmp_path / "back.csv"
    imported = runner.invoke(import_app, ["redcap", str(records), "--form", "intake", "--out", str(back_path)])
    assert imported.exit_code == 0, imported.output
    assert "15 responses to form 'intake'" in imported.stdout
    pd.testing.assert_frame_equal(rs.read_responses(back_path, form), rs.read_responses(data_path, form))

    bad = tmp_path / "bad.csv"
    bad.write_text("record_id," + ",".join(form.item_ids) + "\n1," + answers([3] * 17 + [8]) + "\n", encoding="utf-8")
    failed = runner.invoke(import_app, ["redcap", str(bad), "--form", "intake", "--out", str(tmp_path / "x.csv")])
    assert failed.exit_code == 1 and isinstance(failed.exception, DataError)
    assert "line 2, column 'sha10'" in str(failed.exception)
    assert not (tmp_path / "x.csv").exists()
    blanked = runner.invoke(import_app, ["redcap", str(bad), "--form", "intake", "--invalid", "missing",
                                         "--out", str(tmp_path / "x.csv")])
    assert blanked.exit_code == 0, blanked.output
    assert pd.isna(pd.read_csv(tmp_path / "x.csv")["sha10"][0])
