"""Item banks and forms: loading, validation errors with file and line, content hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

import rctscale as rs
from rctscale.bank import load_bank, validate_items_dir
from rctscale.errors import BankError


def break_file(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, fragment: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


def test_mini_form_loads(mini_form: rs.Form) -> None:
    assert mini_form.item_ids == ["mi01", "mi02", "mi03", "mi04", "mi05", "mi06"]
    assert mini_form.reverse_keyed() == ["mi03", "mi06"]
    assert [s.id for s in mini_form.scored_scales()] == ["total", "total.near", "total.far", "near"]
    assert mini_form.item("mi02").text_for(mini_form.referent) == "This person listens to me."
    assert mini_form.instructions_text() == "Think about this person in the past week."
    assert mini_form.content_hash.startswith("sha256:")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("{id: mi02,", "{id: mi01,", "item 'mi01': duplicate item id (first defined on line"),
    ("{id: mi04, facet: far", "{id: mi04, facet: farr", "item 'mi04': unknown facet 'farr'"),
    ('text: "I feel cut off."', 'text: ""', "item 'mi05': 'text' is missing or empty"),
    ("critical: true}", "critical: true, critical_values: [6]}", "answer value 6 is outside the response scale"),
    ("reverse: true, status: draft, critical", "reverse: yes please, status: draft, critical",
     "'reverse' must be true or false"),
    ("status: draft}", "status: final}", "status 'final' must be one of"),
])
def test_bank_mistakes_name_file_line_and_item(mini_items: Path, old: str, new: str, expected: str) -> None:
    path = mini_items / "mini.yaml"
    break_file(path, old, new)
    with pytest.raises(BankError) as caught:
        load_bank(path)
    message = str(caught.value)
    assert expected in message
    assert f"{path}:" in message
    # the reported line is the line of the broken item
    reported = int(message.split(f"{path}:")[1].split(":")[0])
    assert path.read_text().splitlines()[reported - 1].strip().startswith(("- {id", "facet", "text", "items"))


def test_form_naming_an_unknown_item(mini_items: Path) -> None:
    path = mini_items / "forms" / "mini.yaml"
    break_file(path, "items: [mi01, mi02, mi03, mi04, mi05, mi06]\n", "items: [mi01, mi02, mi03, mi04, mi05, mi66]\n")
    with pytest.raises(BankError) as caught:
        rs.load_form(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, 'mi66')}: item 'mi66': no bank defines this item" in message
    # the scale that lists the real mi06 now scores an item the form does not administer
    assert "item 'mi06' cannot be scored" in message


def test_form_scale_rules(mini_items: Path) -> None:
    path = mini_items / "forms" / "mini.yaml"
    break_file(path, "min_answered: 0.6", "min_answered: 1.5")
    with pytest.raises(BankError, match=rf"{path}:\d+: scale 'near': min_answered must be a share"):
        rs.load_form(path)


def test_yaml_syntax_error_names_the_line(mini_items: Path) -> None:
    path = mini_items / "mini.yaml"
    break_file(path, "title: Mini bank", "title: [Mini bank")
    with pytest.raises(BankError, match=rf"{path}:\d+: YAML syntax error"):
        load_bank(path)


def test_unknown_key_is_reported(mini_items: Path) -> None:
    path = mini_items / "mini.yaml"
    break_file(path, "version: 0.0.1", "version: 0.0.1\nconstrukt: typo")
    with pytest.raises(BankError, match=rf"{path}:{line_of(path, 'construkt')}: bank: unknown key 'construkt'"):
        load_bank(path)


def test_content_hash_ignores_comments_but_not_content(mini_items: Path) -> None:
    path = mini_items / "mini.yaml"
    before = load_bank(path).content_hash
    path.write_text("# a new comment\n" + path.read_text())
    assert load_bank(path).content_hash == before
    break_file(path, "I feel alone.", "I feel lonely.")
    assert load_bank(path).content_hash != before


def test_form_hash_follows_item_wording(mini_items: Path) -> None:
    before = rs.load_form("mini", items_dir=mini_items).content_hash
    break_file(mini_items / "mini.yaml", "I feel alone.", "I feel lonely.")
    assert rs.load_form("mini", items_dir=mini_items).content_hash != before


def test_unknown_names_list_what_exists(mini_items: Path) -> None:
    with pytest.raises(BankError, match="no form named 'nope'.*known: mini"):
        rs.load_form("nope", items_dir=mini_items)


def test_guideline_notes(mini_items: Path) -> None:
    notes = validate_items_dir(mini_items)
    assert any("has 6 items; a bank should have at least 24" in n for n in notes)
    assert any("facet 'near' has 3 items" in n for n in notes)
