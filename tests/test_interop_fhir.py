"""FHIR R4: forms as Questionnaires, responses as QuestionnaireResponse Bundles, and back.

Every resource written is checked with the fhir.resources models (R4B, whose Questionnaire and
QuestionnaireResponse match R4) plus the rules those models leave out (ext-1, status codes).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from typer.testing import CliRunner

import rctscale as rs
from rctscale.errors import DataError
from rctscale.interop import fhir
from rctscale.interop.cli import export_app, import_app

ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
FORMS = ["intake", "research"]


def check_extensions(element: Any, path: str = "", inside_extension: bool = False) -> None:
    """FHIR's ext-1: an extension has a value or sub-extensions, never both, never neither.

    Extensions on resource elements have absolute urls; the parts of a complex extension have plain names.
    """
    if isinstance(element, dict):
        for extension in element.get("extension", []):
            values = [k for k in extension if k.startswith("value")]
            nested = "extension" in extension
            assert nested != bool(values), f"{path}: extension {extension.get('url')} breaks ext-1"
            assert len(values) <= 1
            if not inside_extension:
                assert ":" in extension["url"], f"{path}: extension url {extension['url']!r} is not absolute"
            check_extensions(extension, f"{path}.extension", inside_extension=True)
        for key, value in element.items():
            if key != "extension":
                check_extensions(value, f"{path}.{key}")
    elif isinstance(element, list):
        for index, value in enumerate(element):
            check_extensions(value, f"{path}[{index}]")


def validate_questionnaire(resource: dict[str, Any]) -> Questionnaire:
    parsed = Questionnaire.model_validate(json.loads(json.dumps(resource)))
    assert resource["status"] in ("draft", "active", "retired", "unknown")
    check_extensions(resource, "Questionnaire")
    return parsed


def validate_bundle(bundle: dict[str, Any]) -> Bundle:
    parsed = Bundle.model_validate(json.loads(json.dumps(bundle)))
    assert bundle["type"] == "collection"
    full_urls = [entry["fullUrl"] for entry in bundle.get("entry", [])]
    assert len(set(full_urls)) == len(full_urls), "bdl-7: fullUrls must be unique"
    for entry in bundle.get("entry", []):
        QuestionnaireResponse.model_validate(entry["resource"])
        assert entry["resource"]["status"] in fhir.RESPONSE_STATUSES
        check_extensions(entry["resource"], "QuestionnaireResponse")
    return parsed


@pytest.fixture(scope="module", params=FORMS)
def form(request: pytest.FixtureRequest) -> rs.Form:
    return rs.load_form(request.param)


# ---------------------------------------------------------------- Questionnaire


def test_questionnaire_is_valid_fhir_and_states_the_form(form: rs.Form) -> None:
    questionnaire = fhir.form_to_questionnaire(form)
    parsed = validate_questionnaire(questionnaire)
    assert parsed.version == form.content_hash
    assert questionnaire["url"] == f"urn:rctscale:form:{form.id}"
    assert questionnaire["id"] == form.id and questionnaire["status"] == "draft"
    assert questionnaire["title"] == form.title
    assert [item["linkId"] for item in questionnaire["item"]] == form.item_ids
    assert [item["text"] for item in questionnaire["item"]] == [i.text_for(form.referent) for i in form.items]
    assert not any("{" in item["text"] for item in questionnaire["item"]), "the referent must be filled in"
    for fhir_item, item in zip(questionnaire["item"], form.items, strict=True):
        assert fhir_item["type"] == "choice"
        codings = [option["valueCoding"] for option in fhir_item["answerOption"]]
        assert codings == [{"system": "urn:rctscale:scale:frequency5", "code": str(v), "display": label}
                           for v, label in zip((1, 2, 3, 4, 5), ("Never", "Rarely", "Sometimes", "Often", "Always"),
                                               strict=True)]
        weights = [option["extension"][0]["valueDecimal"] for option in fhir_item["answerOption"]]
        assert all(option["extension"][0]["url"] == ITEM_WEIGHT for option in fhir_item["answerOption"])
        assert weights == ([5, 4, 3, 2, 1] if item.reverse else [1, 2, 3, 4, 5]), item.id


def test_reverse_keying_is_in_the_weights_of_the_intake_form() -> None:
    questionnaire = fhir.form_to_questionnaire(rs.load_form("intake"))
    by_id = {item["linkId"]: item for item in questionnaire["item"]}
    never_weight = {link_id: item["answerOption"][0]["extension"][0]["valueDecimal"] for link_id, item in by_id.items()}
    # con31 (isolation) and mut39 (power-with) are reverse-keyed in the banks; con03 and sha01 are not.
    assert never_weight["con31"] == 5 and never_weight["mut39"] == 5
    assert never_weight["con03"] == 1 and never_weight["sha01"] == 1


def test_questionnaire_round_trip_gives_the_same_form_content(form: rs.Form, tmp_path: Path) -> None:
    path = tmp_path / "questionnaire.json"
    path.write_text(json.dumps(fhir.form_to_questionnaire(form)), encoding="utf-8")
    content = fhir.questionnaire_to_form_content(path)
    assert content == fhir.form_content(form)
    # spelled out: order, wording with the referent, keying, response scale, scales
    assert content.form["items"] == form.item_ids
    assert content.displayed_texts() == {item.id: item.text_for(form.referent) for item in form.items}
    assert [i["id"] for i in content.items if i["reverse"]] == form.reverse_keyed()
    assert {i["response_scale"] for i in content.items} == {"frequency5"}
    assert content.response_scales["frequency5"]["values"][0] == {"value": 1, "label": "Never"}
    assert [s["items"] for s in content.form["scales"]] == [list(s.items) for s in form.scales]
    assert content.content_hash == form.content_hash
    assert "form: " + form.id in content.to_yaml()


def test_questionnaire_from_another_system_takes_keying_from_the_weights() -> None:
    form = rs.load_form("intake")
    questionnaire = fhir.form_to_questionnaire(form)
    questionnaire.pop("extension")
    questionnaire["item"].insert(0, {"linkId": "note", "type": "display", "text": "Please answer every item."})
    questionnaire["item"].append({"linkId": "comment", "type": "string", "text": "Anything else?"})
    for item in questionnaire["item"]:
        item.pop("extension", None)
    content = fhir.questionnaire_to_form_content(questionnaire)
    assert content.form["items"] == form.item_ids
    assert [i["id"] for i in content.items if i["reverse"]] == form.reverse_keyed()
    assert content.displayed_texts() == {item.id: item.text_for(form.referent) for item in form.items}
    assert {i["bank"] for i in content.items} == {"intake"} and {i["facet"] for i in content.items} == {"general"}
    assert content.skipped == ["comment"]
    assert content.form["scales"][0]["items"] == form.item_ids


def test_edited_wording_in_a_fhir_tool_wins_over_the_template() -> None:
    form = rs.load_form("intake")
    questionnaire = fhir.form_to_questionnaire(form)
    questionnaire["item"][0]["text"] = "A reworded first item."
    content = fhir.questionnaire_to_form_content(questionnaire)
    assert content.items[0]["text"] == "A reworded first item."
    assert content.items[1]["text"] == form.items[1].text


def test_weights_that_contradict_the_keying_flag_are_refused() -> None:
    questionnaire = fhir.form_to_questionnaire(rs.load_form("intake"))
    target = next(item for item in questionnaire["item"] if item["linkId"] == "con31")
    for option in target["answerOption"]:
        option["extension"][0]["valueDecimal"] = int(option["valueCoding"]["code"])
    with pytest.raises(DataError, match=r"linkId 'con31'.*forward-keyed but the rctscale extension says reverse"):
        fhir.questionnaire_to_form_content(questionnaire)


def test_weights_that_are_not_a_keying_are_refused() -> None:
    questionnaire = fhir.form_to_questionnaire(rs.load_form("intake"))
    questionnaire["item"][2]["answerOption"][0]["extension"][0]["valueDecimal"] = 9
    with pytest.raises(DataError, match=r"Questionnaire.item\[2\], linkId 'con31': the itemWeight values"):
        fhir.questionnaire_to_form_content(questionnaire)


def test_non_integer_answer_codes_are_refused() -> None:
    questionnaire = fhir.form_to_questionnaire(rs.load_form("intake"))
    questionnaire["item"][1]["answerOption"][3]["valueCoding"]["code"] = "often"
    with pytest.raises(DataError, match=r"linkId 'con09': answerOption\[3\] has code 'often'"):
        fhir.questionnaire_to_form_content(questionnaire)


def test_a_bundle_is_not_a_questionnaire() -> None:
    form = rs.load_form("intake")
    bundle = fhir.responses_to_bundle(form, rs.simulate(form, n=2, seed=1))
    with pytest.raises(DataError, match="resourceType is 'Bundle', expected 'Questionnaire'"):
        fhir.questionnaire_to_form_content(bundle)


# ---------------------------------------------------------------- QuestionnaireResponse


def test_responses_bundle_is_valid_fhir_and_round_trips(form: rs.Form) -> None:
    data = rs.simulate(form, n=60, seed=11, missing_rate=0.05)
    bundle = fhir.responses_to_bundle(form, data)
    validate_bundle(bundle)
    assert len(bundle["entry"]) == 60
    back = fhir.bundle_to_responses(bundle, form)
    pd.testing.assert_frame_equal(back, data)
    assert back.attrs["fhir_questionnaire_versions"] == [form.content_hash]


def test_response_resources_name_the_questionnaire_the_respondent_and_the_status() -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=40, seed=3, missing_rate=0.05)
    bundle = fhir.responses_to_bundle(form, data)
    resources = [entry["resource"] for entry in bundle["entry"]]
    answered = data[form.item_ids].notna().sum(axis=1).tolist()
    assert 0 < sum(n < len(form.items) for n in answered) < 40, "the sample must mix complete and partial responses"
    for resource, respondent, n_answered, (_, row) in zip(resources, data["id"], answered, data.iterrows(),
                                                          strict=True):
        assert resource["questionnaire"] == f"urn:rctscale:form:intake|{form.content_hash}"
        assert resource["identifier"]["value"] == respondent == resource["id"]
        assert resource["subject"]["identifier"]["value"] == respondent
        assert resource["status"] == ("completed" if n_answered == len(form.items) else "in-progress")
        assert len(resource.get("item", [])) == n_answered
        first = resource["item"][0]
        assert first["answer"][0]["valueCoding"]["code"] == str(int(row[first["linkId"]]))
        assert first["answer"][0]["valueCoding"]["display"] == form.item(first["linkId"]).scale.label_of(
            int(row[first["linkId"]]))
    amended = fhir.responses_to_bundle(form, data, amended=True)
    validate_bundle(amended)
    assert {entry["resource"]["status"] for entry in amended["entry"]} == {"amended"}
    pd.testing.assert_frame_equal(fhir.bundle_to_responses(amended, form), data)


def test_respondent_ids_that_are_not_fhir_ids_keep_their_identifier(tmp_path: Path) -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=3, seed=5)
    data["id"] = ["patient 1", "patient_2", "x" * 80]
    bundle = fhir.responses_to_bundle(form, data)
    validate_bundle(bundle)
    ids = [entry["resource"]["id"] for entry in bundle["entry"]]
    assert len(set(ids)) == 3 and "patient 1" not in ids
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    pd.testing.assert_frame_equal(fhir.bundle_to_responses(path, form), data)


def test_one_questionnaire_response_without_a_bundle_is_read() -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=1, seed=9)
    single = fhir.responses_to_bundle(form, data)["entry"][0]["resource"]
    pd.testing.assert_frame_equal(fhir.bundle_to_responses(single, form), data)


def test_entered_in_error_responses_are_left_out() -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=4, seed=9)
    bundle = fhir.responses_to_bundle(form, data)
    bundle["entry"][1]["resource"]["status"] = "entered-in-error"
    bundle["entry"][2]["resource"]["status"] = "amended"
    back = fhir.bundle_to_responses(bundle, form, status_column="status")
    assert back["id"].tolist() == ["sim00001", "sim00003", "sim00004"]
    assert back["status"].tolist() == ["completed", "amended", "completed"]
    assert back.attrs["fhir_entered_in_error"] == 1


def test_responses_to_an_older_version_of_the_form_are_read_and_flagged() -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=3, seed=9)
    bundle = fhir.responses_to_bundle(form, data)
    bundle["entry"][0]["resource"]["questionnaire"] = "urn:rctscale:form:intake|sha256:0ld"
    back = fhir.bundle_to_responses(bundle, form)
    pd.testing.assert_frame_equal(back, data)
    assert back.attrs["form_version_matches"] is False
    assert back.attrs["fhir_questionnaire_versions"] == sorted(["sha256:0ld", form.content_hash])


# ---------------------------------------------------------------- malformed imports


@pytest.fixture()
def intake_bundle() -> dict[str, Any]:
    form = rs.load_form("intake")
    return fhir.responses_to_bundle(form, rs.simulate(form, n=5, seed=2))


def test_not_json_names_the_file_and_the_place(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"resourceType": "Bundle",\n  "entry": [,]}', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken.json: not valid JSON: .* line 2, column"):
        fhir.bundle_to_responses(path, rs.load_form("intake"))


def test_wrong_resource_type_is_refused(intake_bundle: dict[str, Any]) -> None:
    form = rs.load_form("intake")
    with pytest.raises(DataError, match="resourceType is 'Patient'; expected a Bundle"):
        fhir.bundle_to_responses({"resourceType": "Patient"}, form)
    intake_bundle["entry"][3]["resource"] = {"resourceType": "Observation", "id": "obs1"}
    with pytest.raises(DataError, match=r"Bundle.entry\[3\]: resourceType is 'Observation'"):
        fhir.bundle_to_responses(intake_bundle, form)


def test_answer_not_among_the_options_names_entry_response_and_link_id(intake_bundle: dict[str, Any]) -> None:
    resource = intake_bundle["entry"][2]["resource"]
    answer = next(i for i in resource["item"] if i["linkId"] == "mut10")["answer"][0]
    answer["valueCoding"]["code"] = "7"
    with pytest.raises(DataError) as caught:
        fhir.bundle_to_responses(intake_bundle, rs.load_form("intake"))
    message = str(caught.value)
    assert "Bundle.entry[2] (QuestionnaireResponse 'sim00003'), linkId 'mut10'" in message
    assert "answer code '7' is not an option" in message and "1 Never" in message


def test_unknown_link_id_is_refused(intake_bundle: dict[str, Any]) -> None:
    intake_bundle["entry"][0]["resource"]["item"][4]["linkId"] = "con99"
    with pytest.raises(DataError, match=r"Bundle.entry\[0\] \(QuestionnaireResponse 'sim00001'\), linkId 'con99'.*"
                                        "has no such item"):
        fhir.bundle_to_responses(intake_bundle, rs.load_form("intake"))


def test_duplicate_responses_name_both_entries(intake_bundle: dict[str, Any]) -> None:
    duplicate = copy.deepcopy(intake_bundle["entry"][1])
    intake_bundle["entry"].append(duplicate)
    with pytest.raises(DataError, match=r"Bundle.entry\[5\] \(QuestionnaireResponse 'sim00002'\), field 'identifier':"
                                        r" respondent 'sim00002' already answered in Bundle.entry\[1\]"):
        fhir.bundle_to_responses(intake_bundle, rs.load_form("intake"))


def test_an_item_answered_twice_is_refused(intake_bundle: dict[str, Any]) -> None:
    items = intake_bundle["entry"][4]["resource"]["item"]
    items.append(copy.deepcopy(items[0]))
    with pytest.raises(DataError, match=r"linkId 'con03' \(item\[18\]\): the item is answered twice"):
        fhir.bundle_to_responses(intake_bundle, rs.load_form("intake"))


def test_responses_to_another_form_are_refused(intake_bundle: dict[str, Any]) -> None:
    with pytest.raises(DataError, match=r"field 'questionnaire'.*answers 'urn:rctscale:form:intake', not form "
                                        "'research'"):
        fhir.bundle_to_responses(intake_bundle, rs.load_form("research"))


def test_an_answer_from_another_code_system_is_refused(intake_bundle: dict[str, Any]) -> None:
    intake_bundle["entry"][0]["resource"]["item"][0]["answer"][0]["valueCoding"]["system"] = "http://loinc.org"
    with pytest.raises(DataError, match=r"linkId 'con03': the answer's code system 'http://loinc.org'"):
        fhir.bundle_to_responses(intake_bundle, rs.load_form("intake"))


def test_responses_without_ids_cannot_be_exported() -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=3, seed=1).drop(columns="id")
    with pytest.raises(DataError, match="no 'id' column"):
        fhir.responses_to_bundle(form, data)


# ---------------------------------------------------------------- commands


def test_export_and_import_commands_round_trip(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(export_app, ["fhir", "intake"])
    assert printed.exit_code == 0, printed.output
    validate_questionnaire(json.loads(printed.stdout))

    form = rs.load_form("intake")
    data_path = tmp_path / "data.csv"
    data = rs.simulate(form, n=25, seed=4, missing_rate=0.05)
    data.to_csv(data_path, index=False)
    bundle_path = tmp_path / "bundle.json"
    exported = runner.invoke(export_app, ["fhir-responses", "intake", str(data_path), "--out", str(bundle_path)])
    assert exported.exit_code == 0, exported.output
    assert "25 QuestionnaireResponses" in exported.stdout
    validate_bundle(json.loads(bundle_path.read_text(encoding="utf-8")))

    back_path = tmp_path / "back.csv"
    imported = runner.invoke(import_app, ["fhir", str(bundle_path), "--form", "intake", "--out", str(back_path)])
    assert imported.exit_code == 0, imported.output
    pd.testing.assert_frame_equal(rs.read_responses(back_path, form), rs.read_responses(data_path, form))

    questionnaire_path = tmp_path / "q.json"
    assert runner.invoke(export_app, ["fhir", "intake", "--out", str(questionnaire_path)]).exit_code == 0
    yaml_path = tmp_path / "intake.yaml"
    result = runner.invoke(import_app, ["fhir-questionnaire", str(questionnaire_path), "--out", str(yaml_path)])
    assert result.exit_code == 0, result.output
    assert "form: intake" in yaml_path.read_text(encoding="utf-8")


def test_import_command_stops_with_a_user_error_and_writes_nothing(tmp_path: Path,
                                                                    intake_bundle: dict[str, Any]) -> None:
    intake_bundle["entry"][1]["resource"]["item"][0]["answer"][0]["valueCoding"]["code"] = "0"
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_text(json.dumps(intake_bundle), encoding="utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(import_app, ["fhir", str(bundle_path), "--form", "intake", "--out", str(out)])
    assert result.exit_code == 1
    assert isinstance(result.exception, DataError)  # the main command prints these without a traceback
    assert "Bundle.entry[1] (QuestionnaireResponse 'sim00002'), linkId 'con03'" in str(result.exception)
    assert not out.exists()
