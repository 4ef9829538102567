"""Reading response data: formats, missing codes, and one-line errors naming row and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rctscale as rs
from rctscale.errors import DataError

HEADER = "id,group,mi01,mi02,mi03,mi04,mi05,mi06\n"


def write(tmp_path: Path, body: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_reads_csv_and_keeps_other_columns(tmp_path: Path, mini_form: rs.Form) -> None:
    path = write(tmp_path, "a1,clinic,1,2,3,4,5,1\na2,community,5,,NA,3,2,1\n")
    df = rs.read_responses(path, mini_form)
    assert list(df.columns) == ["id", "group", "mi01", "mi02", "mi03", "mi04", "mi05", "mi06"]
    assert df["group"].tolist() == ["clinic", "community"]
    assert df.loc[1, "mi01"] == 5.0
    assert np.isnan(df.loc[1, "mi02"]) and np.isnan(df.loc[1, "mi03"])
    assert df.attrs["form_hash"] == mini_form.content_hash


def test_value_out_of_range_names_line_and_column(tmp_path: Path, mini_form: rs.Form) -> None:
    path = write(tmp_path, "a1,x,1,2,3,4,5,1\na2,x,1,2,7,4,5,1\n")
    with pytest.raises(DataError) as caught:
        rs.read_responses(path, mini_form)
    message = str(caught.value)
    assert "line 3" in message and "column 'mi03'" in message and "respondent 'a2'" in message
    assert "outside the response scale" in message and "\n" not in message


def test_not_a_number(tmp_path: Path, mini_form: rs.Form) -> None:
    path = write(tmp_path, "a1,x,1,2,3,often,5,1\n")
    with pytest.raises(DataError, match=r"line 2, column 'mi04'.*'often' is not a number"):
        rs.read_responses(path, mini_form)


def test_fractional_answer_is_outside_the_scale(tmp_path: Path, mini_form: rs.Form) -> None:
    path = write(tmp_path, "a1,x,1,2.5,3,4,5,1\n")
    with pytest.raises(DataError, match="column 'mi02'"):
        rs.read_responses(path, mini_form)


def test_unknown_item_column(tmp_path: Path, mini_form: rs.Form) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id,mi01,mi02,mi03,mi04,mi05,mi06,mi07\na1,1,2,3,4,5,1,2\n")
    with pytest.raises(DataError, match="column 'mi07' looks like an item id"):
        rs.read_responses(path, mini_form)


def test_duplicate_respondent_id(tmp_path: Path, mini_form: rs.Form) -> None:
    path = write(tmp_path, "a1,x,1,2,3,4,5,1\na2,x,1,2,3,4,5,1\na1,x,1,2,3,4,5,1\n")
    with pytest.raises(DataError, match="line 4, column 'id': respondent id 'a1' already appears on line 2"):
        rs.read_responses(path, mini_form)


def test_missing_codes_are_configurable(tmp_path: Path, mini_form: rs.Form) -> None:
    path = write(tmp_path, "a1,x,-99,2,3,4,5,1\n")
    with pytest.raises(DataError, match="-99"):
        rs.read_responses(path, mini_form)
    df = rs.read_responses(path, mini_form, missing_codes=["", "-99"])
    assert np.isnan(df.loc[0, "mi01"])


def test_invalid_cells_can_become_missing_and_are_counted(tmp_path: Path, mini_form: rs.Form) -> None:
    path = write(tmp_path, "a1,x,9,2,3,4,5,1\na2,x,1,two,3,4,5,0\n")
    df = rs.read_responses(path, mini_form, invalid="missing")
    assert df.attrs["invalid_set_missing"] == 3
    assert np.isnan(df.loc[0, "mi01"]) and np.isnan(df.loc[1, "mi02"]) and np.isnan(df.loc[1, "mi06"])
    assert df.loc[1, "mi03"] == 3


def test_tsv_xlsx_and_sav_read_the_same(tmp_path: Path, mini_form: rs.Form) -> None:
    import pyreadstat

    data = pd.DataFrame({"id": ["a1", "a2"], "mi01": [1, 2], "mi02": [3, np.nan], "mi03": [5, 4], "mi04": [1, 1],
                         "mi05": [2, 2], "mi06": [3, 3]})
    data.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    data.to_excel(tmp_path / "d.xlsx", index=False)
    pyreadstat.write_sav(data, str(tmp_path / "d.sav"))
    frames = [rs.read_responses(tmp_path / name, mini_form) for name in ("d.tsv", "d.xlsx", "d.sav")]
    for frame in frames:
        pd.testing.assert_frame_equal(frame[mini_form.item_ids], frames[0][mini_form.item_ids])
        assert frame["id"].tolist() == ["a1", "a2"]
    bad = data.astype({"mi04": float})
    bad.loc[1, "mi04"] = 6
    bad.to_excel(tmp_path / "bad.xlsx", index=False)
    with pytest.raises(DataError, match="row 3, column 'mi04'"):
        rs.read_responses(tmp_path / "bad.xlsx", mini_form)


def test_missing_item_columns_and_bad_files(tmp_path: Path, mini_form: rs.Form) -> None:
    path = tmp_path / "few.csv"
    path.write_text("id,mi01,mi02\na1,1,2\n")
    with pytest.raises(DataError, match="items missing as columns: mi03"):
        rs.read_responses(path, mini_form)
    with pytest.raises(DataError, match="file not found"):
        rs.read_responses(tmp_path / "nope.csv", mini_form)
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(DataError, match="unknown data format"):
        rs.read_responses(tmp_path / "d.json", mini_form)
    ragged = write(tmp_path, "a1,x,1,2,3,4,5,1,9,9\n", name="ragged.csv")
    with pytest.raises(DataError, match="line 2 has 10 fields but the header has 8"):
        rs.read_responses(ragged, mini_form)
