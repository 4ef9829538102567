"""SPSS .sav and Excel .xlsx with variable and value labels: written, read back, labels kept."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest
from typer.testing import CliRunner

import rctscale as rs
from rctscale.errors import DataError, RctscaleError
from rctscale.interop import labelled
from rctscale.interop.cli import export_app

LABELS = {1: "Never", 2: "Rarely", 3: "Sometimes", 4: "Often", 5: "Always"}


@pytest.mark.parametrize("form_name", ["intake", "research"])
def test_sav_round_trip_keeps_data_and_labels(form_name: str, tmp_path: Path) -> None:
    form = rs.load_form(form_name)
    data = rs.simulate(form, n=70, seed=31, missing_rate=0.05)
    path = labelled.write_sav(form, data, tmp_path / "data.sav")
    back = labelled.read_sav(path, form)
    pd.testing.assert_frame_equal(back, data)
    assert back.attrs["variable_labels"]["con03"] == form.item("con03").text_for(form.referent)
    assert back.attrs["variable_labels"]["id"] == "Respondent id"
    assert back.attrs["value_labels"]["sha10"] == LABELS
    assert set(back.attrs["value_labels"]) == set(form.item_ids)


def test_sav_labels_are_what_spss_sees(tmp_path: Path) -> None:
    """Read the file with pyreadstat directly, as SPSS, jamovi or haven would."""
    form = rs.load_form("intake")
    data = rs.simulate(form, n=10, seed=1, missing_rate=0.1)
    path = labelled.write_sav(form, data, tmp_path / "data.sav")
    frame, meta = pyreadstat.read_sav(str(path))
    assert meta.column_names == ["id", *form.item_ids]
    assert meta.column_names_to_labels["con31"] == form.item("con31").text_for(form.referent)
    assert meta.variable_value_labels["mut39"] == {float(k): v for k, v in LABELS.items()}
    assert meta.variable_measure["con03"] == "ordinal" and meta.variable_measure["id"] == "nominal"
    assert meta.file_label == form.title
    assert form.content_hash in meta.notes
    assert frame["con03"].isna().sum() == data["con03"].isna().sum() > 0


def test_xlsx_has_data_variables_and_values_sheets(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=12, seed=2, missing_rate=0.05)
    path = labelled.write_xlsx(form, data, tmp_path / "data.xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["data", "variables", "values"]
    variables = list(book["variables"].iter_rows(values_only=True))
    assert variables[0] == ("variable", "label", "measure")
    assert variables[1] == ("id", "Respondent id", "nominal")
    assert variables[2] == ("con03", form.item("con03").text_for(form.referent), "ordinal")
    values = list(book["values"].iter_rows(values_only=True))
    assert values[0] == ("variable", "value", "label")
    assert len(values) == 1 + 18 * 5
    assert values[1:6] == [("con03", v, label) for v, label in LABELS.items()]
    data_rows = list(book["data"].iter_rows(values_only=True))
    assert data_rows[0] == ("id", *form.item_ids) and len(data_rows) == 13


@pytest.mark.parametrize("form_name", ["intake", "research"])
def test_xlsx_round_trip_keeps_data_and_labels(form_name: str, tmp_path: Path) -> None:
    form = rs.load_form(form_name)
    data = rs.simulate(form, n=40, seed=32, missing_rate=0.05)
    back = labelled.read_labelled(labelled.write_xlsx(form, data, tmp_path / "data.xlsx"), form)
    pd.testing.assert_frame_equal(back, data)
    first = form.items[0]
    assert back.attrs["value_labels"][first.id] == LABELS
    assert back.attrs["variable_labels"][first.id] == first.text_for(form.referent)
    assert set(back.attrs["value_labels"]) == set(form.item_ids)


def test_other_columns_travel_with_the_items(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=30, seed=4, groups={"clinic_a": rs.GroupSpec(), "clinic_b": rs.GroupSpec()})
    for writer, reader, name in ((labelled.write_sav, labelled.read_sav, "g.sav"),
                                 (labelled.write_xlsx, labelled.read_xlsx, "g.xlsx")):
        back = reader(writer(form, data, tmp_path / name), form)
        pd.testing.assert_frame_equal(back, data)
        assert sorted(set(back["group"])) == ["clinic_a", "clinic_b"]


def test_a_file_whose_codes_mean_something_else_is_refused(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=5, seed=3)
    path = tmp_path / "reversed.sav"
    reversed_labels = {float(k): v for k, v in zip(LABELS, reversed(LABELS.values()), strict=True)}
    pyreadstat.write_sav(data, str(path), variable_value_labels={"sha01": reversed_labels})
    with pytest.raises(DataError, match=r"variable 'sha01': code 1 is labelled 'Always' in the file but 'Never'"):
        labelled.read_sav(path, form)
    relabelled = labelled.read_sav(path, form, check_labels=False)
    assert relabelled.attrs["value_labels"]["sha01"][1] == "Always"


def test_an_invalid_answer_in_the_workbook_names_the_row_and_column(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=5, seed=3)
    path = labelled.write_xlsx(form, data, tmp_path / "data.xlsx")
    book = openpyxl.load_workbook(path)
    book["data"]["C4"] = 7  # column C is con09, row 4 is the third respondent
    book.save(path)
    with pytest.raises(DataError, match=r"data.xlsx: row 4, column 'con09' \(respondent 'sim00003'\): value 7"):
        labelled.read_xlsx(path, form)


def test_a_values_sheet_with_a_non_numeric_code_is_refused(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    path = labelled.write_xlsx(form, rs.simulate(form, n=3, seed=3), tmp_path / "data.xlsx")
    book = openpyxl.load_workbook(path)
    book["values"]["B3"] = "two"
    book.save(path)
    with pytest.raises(DataError, match=r"sheet 'values', row 3, column 'value': 'two' is not a number"):
        labelled.read_xlsx(path, form)


def test_export_commands_write_labelled_files(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=20, seed=7, missing_rate=0.05)
    data_path = tmp_path / "data.csv"
    data.to_csv(data_path, index=False)
    runner = CliRunner()
    sav = tmp_path / "out.sav"
    result = runner.invoke(export_app, ["sav", "intake", str(data_path), "--out", str(sav)])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(labelled.read_sav(sav, form), rs.read_responses(data_path, form))
    xlsx = tmp_path / "out.xlsx"
    result = runner.invoke(export_app, ["xlsx", "intake", str(data_path), "--out", str(xlsx)])
    assert result.exit_code == 0, result.output
    assert labelled.read_xlsx(xlsx, form).attrs["value_labels"]["con03"] == LABELS
    wrong = runner.invoke(export_app, ["sav", "intake", str(data_path), "--out", str(tmp_path / "out.csv")])
    assert wrong.exit_code == 1 and isinstance(wrong.exception, RctscaleError)
    assert "--out must end in .sav" in str(wrong.exception)
