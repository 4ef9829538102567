"""FHIR R4: a form as a ``Questionnaire``, responses as ``QuestionnaireResponse`` resources, and back.

Why: clinics keep their records in systems that speak FHIR. A form exported here can be rendered by any
FHIR questionnaire engine, and the answers it collects come back as rctscale response data, checked
against the form like any other import.

What the resources carry:

- ``Questionnaire``: ``url`` ``urn:rctscale:form:<form id>``, ``version`` = the form's content hash (so a
  response names the exact wording and keying it answered), one ``choice`` item per form item with the
  form's referent filled in, and one ``answerOption`` per answer: a ``valueCoding`` in the code system
  ``urn:rctscale:scale:<response scale id>`` (code = the stored value, display = its label) and the
  standard ``itemWeight`` extension holding the *scored* value, ``min + max - value`` for reverse-keyed
  items, so a FHIR system that sums weights scores the items the way rctscale does. Two rctscale
  extensions (``urn:rctscale:fhir:extension:form`` and ``...:item``) keep what FHIR has no element for
  (bank, facet, keying, status, the item text before the referent is filled in, the form's scales), so
  that :func:`questionnaire_to_form_content` gives back the same form content.
- ``QuestionnaireResponse``: one per row of response data, in a ``Bundle`` of type ``collection``;
  ``questionnaire`` is the canonical ``url|version``, the respondent id is the ``identifier`` and the
  ``subject``; each answered item holds one ``valueCoding``; unanswered items are left out; ``status`` is
  ``completed`` when every item is answered, ``in-progress`` otherwise, or ``amended`` on request.

The resources are plain ``dict`` objects ready for :func:`json.dumps`; the test suite checks them with
the ``fhir.resources`` models (R4B, whose Questionnaire and QuestionnaireResponse are those of R4).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from rctscale.bank import Form, Item, ResponseScale, fill_referent
from rctscale.data import validate_responses
from rctscale.errors import DataError

ITEM_WEIGHT_URL = "http://hl7.org/fhir/StructureDefinition/itemWeight"
# The R4 core extension with the same meaning as itemWeight; read on import, never written.
ORDINAL_VALUE_URL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
FORM_EXTENSION_URL = "urn:rctscale:fhir:extension:form"
ITEM_EXTENSION_URL = "urn:rctscale:fhir:extension:item"
FORM_URL_PREFIX = "urn:rctscale:form:"
FORM_IDENTIFIER_SYSTEM = "urn:rctscale:form"
SCALE_SYSTEM_PREFIX = "urn:rctscale:scale:"
RESPONDENT_SYSTEM = "urn:rctscale:respondent"
RESPONSE_STATUSES = ("in-progress", "completed", "amended", "entered-in-error", "stopped")

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_RCTSCALE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


# ---------------------------------------------------------------- names


def questionnaire_url(form: Form | str) -> str:
    """The canonical URL of a form's Questionnaire (without version): ``urn:rctscale:form:<id>``."""
    return FORM_URL_PREFIX + (form if isinstance(form, str) else form.id)


def questionnaire_canonical(form: Form) -> str:
    """``url|version``: what a QuestionnaireResponse names as the Questionnaire it answers."""
    return f"{questionnaire_url(form)}|{form.content_hash}"


def scale_system(scale: ResponseScale | str) -> str:
    """The code system of a response scale's answers: ``urn:rctscale:scale:<scale id>``."""
    return SCALE_SYSTEM_PREFIX + (scale if isinstance(scale, str) else scale.id)


def scored_value(item: Item, value: int) -> int:
    """The value an answer adds to a scale score: the answer itself, or ``min + max - answer`` if reverse-keyed."""
    return item.scale.minimum + item.scale.maximum - value if item.reverse else value


def _resource_id(text: str) -> str:
    """A FHIR resource id for an rctscale id (FHIR ids allow letters, digits, '-' and '.', not '_')."""
    candidate = text.replace("_", "-")
    return candidate if _FHIR_ID.match(candidate) else _hashed_id(text)


def _hashed_id(text: str) -> str:
    """A stable FHIR id for text that is not one (spaces, underscores, too long)."""
    return "x" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _computable_name(form_id: str) -> str:
    """Questionnaire.name: the form id with a capital first letter, as FHIR's que-0 rule asks."""
    return form_id[:1].upper() + form_id[1:]


# ---------------------------------------------------------------- extensions


def _value(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {"url": name, f"value{kind}": value}


def _complex(url: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"url": url, "extension": parts}


def _decimal(number: float) -> int | float:
    return int(number) if float(number).is_integer() else float(number)


def _form_extension(form: Form) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for name, text in (("formVersion", form.version), ("referent", form.referent), ("timeFrame", form.time_frame),
                       ("instructions", form.instructions), ("norms", form.norms or "")):
        if text.strip():
            parts.append(_value(name, "String", text))
    if form.simulation:
        parts.append(_value("simulation", "String", json.dumps(form.simulation, sort_keys=True)))
    for scale in form.scales:
        scale_parts = [_value("id", "Code", scale.id), _value("name", "String", scale.name)]
        scale_parts += [_value("item", "Code", item_id) for item_id in scale.items]
        scale_parts.append(_value("minAnswered", "Decimal", _decimal(scale.min_answered)))
        if scale.reliability is not None:
            scale_parts.append(_value("reliability", "Decimal", _decimal(scale.reliability)))
        scale_parts.append(_value("facets", "Boolean", scale.facets))
        parts.append(_complex("scale", scale_parts))
    for bank in form.banks:
        bank_parts = [_value("id", "Code", bank.id), _value("title", "String", bank.title),
                      _value("contentHash", "String", bank.content_hash)]
        if bank.version.strip():
            bank_parts.insert(1, _value("version", "String", bank.version))
        parts.append(_complex("bank", bank_parts))
    for scale in _response_scales(form):
        parts.append(_complex("responseScale", [_value("id", "Code", scale.id), _value("name", "String", scale.name)]))
    return _complex(FORM_EXTENSION_URL, parts)


def _response_scales(form: Form) -> list[ResponseScale]:
    seen: dict[str, ResponseScale] = {}
    for item in form.items:
        seen.setdefault(item.scale.id, item.scale)
    return list(seen.values())


def _item_extension(item: Item) -> dict[str, Any]:
    parts = [_value("bank", "Code", item.bank), _value("facet", "Code", item.facet),
             _value("reverse", "Boolean", item.reverse), _value("status", "Code", item.status),
             _value("text", "String", item.text), _value("critical", "Boolean", item.critical)]
    parts += [_value("criticalValue", "Integer", value) for value in item.critical_values]
    if item.direction:
        parts.append(_value("direction", "Code", item.direction))
    if item.pair:
        parts.append(_value("pair", "Code", item.pair))
    return _complex(ITEM_EXTENSION_URL, parts)


# ---------------------------------------------------------------- form -> Questionnaire


def form_to_questionnaire(form: Form) -> dict[str, Any]:
    """The form as a FHIR R4 ``Questionnaire`` resource (a JSON-ready dict).

    Item order, texts (with the form's referent filled in), answer codes and labels, and keying (in the
    ``itemWeight`` of every answer) are what a FHIR system sees; the rctscale extensions carry the rest.

    Example
    -------
    >>> import rctscale as rs
    >>> q = form_to_questionnaire(rs.load_form("intake"))
    >>> q["resourceType"], q["item"][0]["type"]
    ('Questionnaire', 'choice')
    """
    questionnaire: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": _resource_id(form.id),
        "extension": [_form_extension(form)],
        "url": questionnaire_url(form),
        "identifier": [{"system": FORM_IDENTIFIER_SYSTEM, "value": form.id}],
        "version": form.content_hash,
        "name": _computable_name(form.id),
        "title": form.title,
        "status": "draft",
        "subjectType": ["Patient"],
    }
    description = form.instructions_text().strip()
    if description:
        questionnaire["description"] = description
    questionnaire["item"] = [_questionnaire_item(item, form.referent) for item in form.items]
    return questionnaire


def _questionnaire_item(item: Item, referent: str) -> dict[str, Any]:
    options = []
    for option in item.scale.options:
        options.append({
            "extension": [_value(ITEM_WEIGHT_URL, "Decimal", scored_value(item, option.value))],
            "valueCoding": {"system": scale_system(item.scale), "code": str(option.value), "display": option.label},
        })
    return {"extension": [_item_extension(item)], "linkId": item.id, "text": item.text_for(referent),
            "type": "choice", "answerOption": options}


# ---------------------------------------------------------------- form content (what a form YAML holds)


@dataclass(frozen=True)
class FormContent:
    """A form's content as plain data: the form YAML, its item definitions and response scales.

    ``form`` follows the schema of ``items/forms/*.yaml``; each entry of ``items`` follows the item schema
    of a bank file plus ``bank`` and ``response_scale``; ``response_scales`` follows ``scales.yaml``.
    ``banks`` records the id, version, title and content hash of each bank the items came from;
    ``content_hash`` is the Questionnaire's ``version`` (the exported form's hash) when known.
    ``skipped`` lists the linkIds of Questionnaire items that cannot be scored (not ``choice`` items).
    """

    form: dict[str, Any]
    items: list[dict[str, Any]]
    response_scales: dict[str, dict[str, Any]]
    banks: dict[str, dict[str, Any]]
    content_hash: str | None = None
    skipped: list[str] = field(default_factory=list)

    def displayed_texts(self) -> dict[str, str]:
        """Item id -> the text a respondent reads (the referent filled in)."""
        referent = self.form.get("referent", "")
        return {item["id"]: fill_referent(item["text"], referent) for item in self.items}

    def to_yaml(self) -> str:
        """YAML with the form, its items and its response scales, for review or for building a bank."""
        document = {"form": self.form, "items": self.items, "scales": self.response_scales, "banks": self.banks}
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)


def _item_definition(item_id: str, bank: str, facet: str, text: str, reverse: bool, status: str, critical: bool,
                     critical_values: list[int], direction: str | None, pair: str | None,
                     response_scale: str) -> dict[str, Any]:
    definition: dict[str, Any] = {"id": item_id, "bank": bank, "facet": facet, "text": text, "reverse": reverse,
                                  "status": status}
    if critical:
        definition["critical"] = True
    if critical_values:
        definition["critical_values"] = list(critical_values)
    if direction:
        definition["direction"] = direction
    if pair:
        definition["pair"] = pair
    definition["response_scale"] = response_scale
    return definition


def _scale_definition(scale_id: str, name: str, items: list[str], min_answered: float, reliability: float | None,
                      facets: bool) -> dict[str, Any]:
    definition: dict[str, Any] = {"id": scale_id, "name": name, "items": list(items),
                                  "min_answered": float(min_answered)}
    if reliability is not None:
        definition["reliability"] = float(reliability)
    definition["facets"] = bool(facets)
    return definition


def form_content(form: Form) -> FormContent:
    """The content of a loaded form, in the shape :func:`questionnaire_to_form_content` returns."""
    document: dict[str, Any] = {
        "form": form.id, "version": form.version, "title": form.title, "referent": form.referent,
        "time_frame": form.time_frame, "instructions": form.instructions, "items": form.item_ids,
        "scales": [_scale_definition(s.id, s.name, list(s.items), s.min_answered, s.reliability, s.facets)
                   for s in form.scales],
        "norms": form.norms,
    }
    if form.simulation:
        document["simulation"] = json.loads(json.dumps(form.simulation))
    items = [_item_definition(i.id, i.bank, i.facet, i.text, i.reverse, i.status, i.critical, list(i.critical_values),
                              i.direction, i.pair, i.scale.id) for i in form.items]
    scales = {s.id: {"name": s.name, "values": [{"value": o.value, "label": o.label} for o in s.options]}
              for s in _response_scales(form)}
    banks = {b.id: {"version": b.version, "title": b.title, "content_hash": b.content_hash} for b in form.banks}
    return FormContent(form=document, items=items, response_scales=scales, banks=banks, content_hash=form.content_hash)


# ---------------------------------------------------------------- reading JSON


def read_fhir_json(source: Mapping[str, Any] | str | Path) -> tuple[dict[str, Any], str]:
    """A FHIR resource from a dict or a JSON file; returns the resource and a name for messages."""
    if isinstance(source, Mapping):
        return dict(source), "resource"
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); FHIR JSON is UTF-8") from None
    try:
        resource = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}; "
                        "export the resource as FHIR JSON (XML is not read)") from None
    if not isinstance(resource, dict):
        raise DataError(f"{path}: expected a JSON object (a FHIR resource), found a {type(resource).__name__}")
    return resource, str(path)


def _extension(element: Mapping[str, Any], url: str) -> list[dict[str, Any]]:
    found = element.get("extension") or []
    return [e for e in found if isinstance(e, dict) and e.get("url") == url] if isinstance(found, list) else []


def _part_values(extension: Mapping[str, Any] | None, name: str) -> list[Any]:
    """The values of the sub-extensions called ``name`` of a complex extension."""
    if not extension:
        return []
    values = []
    for part in _extension(extension, name):
        if "extension" in part:
            values.append(part)
            continue
        values.extend(v for k, v in part.items() if k.startswith("value"))
    return values


def _part(extension: Mapping[str, Any] | None, name: str, default: Any = None) -> Any:
    values = _part_values(extension, name)
    return values[0] if values else default


# ---------------------------------------------------------------- Questionnaire -> form content


def questionnaire_to_form_content(source: Mapping[str, Any] | str | Path) -> FormContent:
    """Read a Questionnaire (a dict or a JSON file) back into form content.

    A Questionnaire exported by :func:`form_to_questionnaire` gives back the exported form's content
    exactly. Other Questionnaires are read as far as FHIR says: ``choice`` items with integer answer
    codes become items (keying from ``itemWeight``, bank = the form id, facet ``general``), groups are
    flattened and other item types are listed in ``skipped``.
    """
    questionnaire, where = read_fhir_json(source)
    kind = questionnaire.get("resourceType")
    if kind != "Questionnaire":
        raise DataError(f"{where}: resourceType is {kind!r}, expected 'Questionnaire'; "
                        "pass the exported form (rctscale export fhir), not a response bundle")
    form_ext = (_extension(questionnaire, FORM_EXTENSION_URL) or [None])[0]
    form_id = _form_id_of(questionnaire, where)
    referent = _part(form_ext, "referent", "")
    response_scale_names = {_part(p, "id"): _part(p, "name") for p in _part_values(form_ext, "responseScale")}

    items: list[dict[str, Any]] = []
    scales: dict[str, dict[str, Any]] = {}
    scale_of_signature: dict[tuple, str] = {}
    skipped: list[str] = []
    seen: dict[str, str] = {}
    for path, element in _questionnaire_items(questionnaire.get("item") or [], "Questionnaire.item"):
        link_id = element.get("linkId")
        if not isinstance(link_id, str) or not link_id.strip():
            raise DataError(f"{where}: {path}: the item has no linkId; every item needs one")
        if link_id in seen:
            raise DataError(f"{where}: {path}, linkId '{link_id}': the linkId is also used at {seen[link_id]}; "
                            "linkIds must be unique")
        seen[link_id] = path
        kind = element.get("type")
        if kind == "display":
            continue
        if kind not in ("choice", "coding"):
            skipped.append(link_id)
            continue
        items.append(_read_item(element, path, link_id, form_id, referent, where, scales, scale_of_signature,
                                response_scale_names))
    if not items:
        raise DataError(f"{where}: the Questionnaire has no choice items with integer answer codes; nothing to score")

    item_ids = [item["id"] for item in items]
    scale_parts = _part_values(form_ext, "scale")
    form_scales = []
    for part in scale_parts:
        scale_items = [str(i) for i in _part_values(part, "item")]
        unknown = [i for i in scale_items if i not in item_ids]
        if unknown:
            raise DataError(f"{where}: scale '{_part(part, 'id')}' lists item '{unknown[0]}', which the "
                            "Questionnaire does not contain; the file was edited or is incomplete")
        form_scales.append(_scale_definition(str(_part(part, "id")), str(_part(part, "name", "")), scale_items,
                                             float(_part(part, "minAnswered", 0.8)), _optional_float(part),
                                             bool(_part(part, "facets", False))))
    if not form_scales:
        form_scales = [_scale_definition("total", str(questionnaire.get("title") or form_id), item_ids, 0.8, None,
                                         False)]
    document: dict[str, Any] = {
        "form": form_id,
        "version": _part(form_ext, "formVersion", ""),
        "title": str(questionnaire.get("title") or form_id),
        "referent": referent,
        "time_frame": _part(form_ext, "timeFrame", ""),
        "instructions": _part(form_ext, "instructions", questionnaire.get("description") or ""),
        "items": item_ids,
        "scales": form_scales,
        "norms": _part(form_ext, "norms"),
    }
    simulation = _part(form_ext, "simulation")
    if simulation:
        try:
            document["simulation"] = json.loads(simulation)
        except json.JSONDecodeError:
            raise DataError(f"{where}: the rctscale 'simulation' extension is not valid JSON; remove it or "
                            "export the form again") from None
    banks = {}
    for part in _part_values(form_ext, "bank"):
        banks[str(_part(part, "id"))] = {"version": _part(part, "version", ""), "title": _part(part, "title", ""),
                                         "content_hash": _part(part, "contentHash", "")}
    if not banks:
        banks = {form_id: {"version": "", "title": document["title"], "content_hash": ""}}
    return FormContent(form=document, items=items, response_scales=scales, banks=banks,
                       content_hash=questionnaire.get("version"), skipped=skipped)


def _optional_float(part: Mapping[str, Any]) -> float | None:
    value = _part(part, "reliability")
    return None if value is None else float(value)


def _form_id_of(questionnaire: Mapping[str, Any], where: str) -> str:
    for identifier in questionnaire.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == FORM_IDENTIFIER_SYSTEM:
            return str(identifier.get("value"))
    url = str(questionnaire.get("url") or "")
    if url.startswith(FORM_URL_PREFIX):
        return url[len(FORM_URL_PREFIX):]
    for candidate in (questionnaire.get("name"), questionnaire.get("id")):
        if isinstance(candidate, str) and candidate.strip():
            form_id = re.sub(r"[^a-z0-9_]+", "_", candidate.strip().lower()).strip("_")
            if form_id and not form_id[0].isalpha():
                form_id = "q_" + form_id
            if form_id:
                return form_id
    raise DataError(f"{where}: the Questionnaire has no url, identifier, name or id to name the form by")


def _questionnaire_items(elements: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every item, groups flattened, with its FHIRPath-like location for messages."""
    if not isinstance(elements, list):
        return
    for index, element in enumerate(elements):
        here = f"{path}[{index}]"
        if not isinstance(element, dict):
            raise DataError(f"{here}: expected an item object, found {type(element).__name__}")
        if element.get("type") == "group":
            yield from _questionnaire_items(element.get("item"), f"{here}.item")
            continue
        yield here, element
        yield from _questionnaire_items(element.get("item"), f"{here}.item")


def _option_weight(option: Mapping[str, Any]) -> float | None:
    coding = option.get("valueCoding") if isinstance(option.get("valueCoding"), dict) else {}
    for holder in (option, coding):
        for url in (ITEM_WEIGHT_URL, ORDINAL_VALUE_URL):
            for extension in _extension(holder, url):
                if "valueDecimal" in extension:
                    return float(extension["valueDecimal"])
    return None


def _read_item(element: Mapping[str, Any], path: str, link_id: str, form_id: str, referent: str, where: str,
               scales: dict[str, dict[str, Any]], scale_of_signature: dict[tuple, str],
               response_scale_names: dict[Any, Any]) -> dict[str, Any]:
    here = f"{where}: {path}, linkId '{link_id}'"
    if not _RCTSCALE_ID.match(link_id):
        raise DataError(f"{here}: the linkId is not an rctscale item id (lowercase letters, digits, underscores, "
                        "starting with a letter); rename the item")
    options = element.get("answerOption")
    if not isinstance(options, list) or not options:
        raise DataError(f"{here}: the choice item has no answerOption list; rctscale needs the answers listed "
                        "(answerValueSet is not read)")
    codes: list[int] = []
    labels: list[str] = []
    weights: list[float | None] = []
    systems: set[str] = set()
    for index, option in enumerate(options):
        coding = option.get("valueCoding") if isinstance(option, dict) else None
        if isinstance(coding, dict):
            code, label = coding.get("code"), coding.get("display")
            if coding.get("system"):
                systems.add(str(coding["system"]))
        elif isinstance(option, dict) and isinstance(option.get("valueInteger"), int):
            code, label = option["valueInteger"], None
        else:
            raise DataError(f"{here}: answerOption[{index}] is neither a valueCoding nor a valueInteger")
        try:
            number = int(str(code).strip())
        except ValueError:
            raise DataError(f"{here}: answerOption[{index}] has code {code!r}; rctscale stores answers as integers, "
                            "so answer codes must be whole numbers") from None
        codes.append(number)
        labels.append(str(label) if label else str(number))
        weights.append(_option_weight(option))
    order = sorted(range(len(codes)), key=codes.__getitem__)
    codes, labels, weights = [codes[i] for i in order], [labels[i] for i in order], [weights[i] for i in order]
    if codes != list(range(codes[0], codes[0] + len(codes))) or len(codes) < 2:
        raise DataError(f"{here}: answer codes {codes} must be at least two consecutive whole numbers")
    scale_id = _scale_id(systems, codes, labels, here, scale_of_signature)
    values = [{"value": c, "label": lab} for c, lab in zip(codes, labels, strict=True)]
    known = scales.get(scale_id)
    if known is None:
        name = response_scale_names.get(scale_id) or scale_id
        scales[scale_id] = {"name": str(name), "values": values}
    elif known["values"] != values:
        raise DataError(f"{here}: the answers of code system '{scale_system(scale_id)}' differ from those of earlier "
                        "items; one response scale must have one set of answers")

    item_ext = (_extension(element, ITEM_EXTENSION_URL) or [None])[0]
    reverse = _keying_from_weights(codes, weights, here)
    stated_reverse = _part(item_ext, "reverse")
    if stated_reverse is not None and reverse is not None and bool(stated_reverse) != reverse:
        raise DataError(f"{here}: the itemWeight values say the item is {'reverse' if reverse else 'forward'}-keyed "
                        f"but the rctscale extension says {'reverse' if stated_reverse else 'forward'}; "
                        "fix one of them so the keying is unambiguous")
    if reverse is None:
        reverse = bool(stated_reverse)
    displayed = element.get("text")
    template = _part(item_ext, "text")
    if isinstance(template, str) and (not displayed or fill_referent(template, referent) == displayed):
        text = template
    elif isinstance(displayed, str) and displayed.strip():
        text = displayed  # the wording was edited in a FHIR tool: what respondents read wins
    else:
        raise DataError(f"{here}: the item has no text; every item needs the wording respondents read")
    return _item_definition(
        link_id, str(_part(item_ext, "bank", form_id)), str(_part(item_ext, "facet", "general")), text, reverse,
        str(_part(item_ext, "status", "draft")), bool(_part(item_ext, "critical", False)),
        [int(v) for v in _part_values(item_ext, "criticalValue")], _part(item_ext, "direction"),
        _part(item_ext, "pair"), scale_id)


def _scale_id(systems: set[str], codes: list[int], labels: list[str], here: str,
              scale_of_signature: dict[tuple, str]) -> str:
    if len(systems) > 1:
        raise DataError(f"{here}: the answers use several code systems ({', '.join(sorted(systems))}); "
                        "one item's answers must come from one response scale")
    system = next(iter(systems), "")
    if system.startswith(SCALE_SYSTEM_PREFIX):
        return system[len(SCALE_SYSTEM_PREFIX):]
    signature = (system, tuple(codes), tuple(labels))
    if signature not in scale_of_signature:
        scale_of_signature[signature] = f"scale{len(scale_of_signature) + 1}"
    return scale_of_signature[signature]


def _keying_from_weights(codes: list[int], weights: list[float | None], here: str) -> bool | None:
    """True for reverse keying, False for forward, None when the answers carry no weights."""
    if all(w is None for w in weights):
        return None
    if any(w is None for w in weights):
        raise DataError(f"{here}: only some answers carry an itemWeight; give every answer one or none")
    if weights == [float(c) for c in codes]:
        return False
    if weights == [float(codes[0] + codes[-1] - c) for c in codes]:
        return True
    raise DataError(f"{here}: the itemWeight values {[_decimal(w) for w in weights if w is not None]} are neither "
                    f"the answer codes {codes} nor their reverse; rctscale scores an answer as its code "
                    "or as min + max - code")


# ---------------------------------------------------------------- responses -> Bundle


def responses_to_bundle(form: Form, responses: pd.DataFrame, *, id_column: str = "id",
                        subject_column: str | None = None, amended: bool = False) -> dict[str, Any]:
    """Response data as a ``Bundle`` (type ``collection``) of ``QuestionnaireResponse`` resources.

    Parameters
    ----------
    form : the form the respondents answered.
    responses : one row per response: ``id_column`` plus the form's item columns (validated here).
        Other columns (group, covariates) are not part of a QuestionnaireResponse and are left out.
    id_column : the column that identifies each response; becomes the ``identifier`` and, unless
        ``subject_column`` is given, the ``subject``.
    subject_column : a column naming the person (e.g. REDCap's ``record_id`` for repeated forms).
    amended : mark every response ``amended`` (answers changed after completion) instead of
        ``completed`` / ``in-progress``.
    """
    validated = validate_responses(responses, form, source="responses", id_column=id_column)
    if id_column not in validated.columns:
        raise DataError(f"responses: no '{id_column}' column; every QuestionnaireResponse needs an identifier "
                        "(add an id column or name it with id_column / --id-column)")
    if subject_column is not None and subject_column not in validated.columns:
        raise DataError(f"responses: no '{subject_column}' column to take the subject from")
    canonical = questionnaire_canonical(form)
    answers = validated[form.item_ids].to_numpy(dtype=float)
    identifiers = [_cell_text(v) for v in validated[id_column]]
    subjects = [_cell_text(v) for v in validated[subject_column]] if subject_column else identifiers
    entries = []
    for row, respondent in enumerate(identifiers):
        if not respondent:
            raise DataError(f"responses: row {row + 1}, column '{id_column}': the id is empty; every "
                            "QuestionnaireResponse needs an identifier")
        if not subjects[row]:
            raise DataError(f"responses: row {row + 1}, column '{subject_column}': the subject is empty")
        items = []
        for column, item in enumerate(form.items):
            value = answers[row, column]
            if math.isnan(value):
                continue
            items.append({"linkId": item.id, "text": item.text_for(form.referent), "answer": [{"valueCoding": {
                "system": scale_system(item.scale), "code": str(int(value)),
                "display": item.scale.label_of(int(value))}}]})
        complete = len(items) == len(form.items)
        resource: dict[str, Any] = {
            "resourceType": "QuestionnaireResponse",
            "id": respondent if _FHIR_ID.match(respondent) else _hashed_id(respondent),
            "identifier": {"system": RESPONDENT_SYSTEM, "value": respondent},
            "questionnaire": canonical,
            "status": "amended" if amended else ("completed" if complete else "in-progress"),
            "subject": {"identifier": {"system": RESPONDENT_SYSTEM, "value": subjects[row]}},
        }
        if items:
            resource["item"] = items
        full_url = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{canonical}#{respondent}"))
        entries.append({"fullUrl": full_url, "resource": resource})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if entries:
        bundle["entry"] = entries
    return bundle


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


# ---------------------------------------------------------------- Bundle -> responses


def bundle_to_responses(source: Mapping[str, Any] | str | Path, form: Form, *, id_column: str = "id",
                        status_column: str | None = None) -> pd.DataFrame:
    """Read QuestionnaireResponses (a Bundle, or one resource; a dict or a JSON file) into response data.

    Returns the wide DataFrame :func:`rctscale.read_responses` would: ``id_column`` (the response's
    identifier, else its subject's identifier, else its resource id) and the form's item columns as
    floats, NaN where unanswered; with ``status_column`` also each response's status. Responses marked
    ``entered-in-error`` are left out and counted in ``df.attrs["fhir_entered_in_error"]``; the
    Questionnaire versions the responses name are in ``df.attrs["fhir_questionnaire_versions"]``.

    Every problem names the Bundle entry, the response and the linkId: not JSON, a resource that is
    not a QuestionnaireResponse, a response to another form, an unknown linkId, an answer that is not
    one of the item's options, two responses with one identifier.
    """
    resource, where = read_fhir_json(source)
    kind = resource.get("resourceType")
    if kind == "QuestionnaireResponse":
        located = [("QuestionnaireResponse", resource)]
    elif kind == "Bundle":
        entries = resource.get("entry") or []
        if not isinstance(entries, list):
            raise DataError(f"{where}: Bundle.entry must be a list of entries")
        located = [(f"Bundle.entry[{i}]", e.get("resource") if isinstance(e, dict) else None)
                   for i, e in enumerate(entries)]
    else:
        raise DataError(f"{where}: resourceType is {kind!r}; expected a Bundle of QuestionnaireResponse resources "
                        "or one QuestionnaireResponse")

    items_by_id = {item.id: item for item in form.items}
    url = questionnaire_url(form)
    rows: list[dict[str, Any]] = []
    first_seen: dict[str, str] = {}
    versions: set[str] = set()
    entered_in_error = 0
    for place, response in located:
        if not isinstance(response, dict):
            raise DataError(f"{where}: {place}: the entry has no resource; expected a QuestionnaireResponse")
        label = f"{place} (QuestionnaireResponse '{response.get('id', '?')}')"
        if response.get("resourceType") != "QuestionnaireResponse":
            raise DataError(f"{where}: {place}: resourceType is {response.get('resourceType')!r}, expected "
                            "'QuestionnaireResponse'; remove the entry or export responses only")
        status = response.get("status")
        if status not in RESPONSE_STATUSES:
            raise DataError(f"{where}: {label}, field 'status': {status!r} is not a QuestionnaireResponse status "
                            f"({', '.join(RESPONSE_STATUSES)})")
        canonical = response.get("questionnaire")
        if canonical is not None:
            answered_url, _, version = str(canonical).partition("|")
            if answered_url != url:
                raise DataError(f"{where}: {label}, field 'questionnaire': the response answers '{answered_url}', "
                                f"not form '{form.id}' ({url}); import it with the form it answers")
            if version:
                versions.add(version)
        if status == "entered-in-error":
            entered_in_error += 1
            continue
        respondent = _respondent_of(response)
        if not respondent:
            raise DataError(f"{where}: {label}, field 'identifier': the response has no identifier, subject "
                            "identifier or id to name the respondent by")
        if respondent in first_seen:
            raise DataError(f"{where}: {label}, field 'identifier': respondent '{respondent}' already answered in "
                            f"{first_seen[respondent]}; each response must have its own identifier (remove the "
                            "duplicate, or mark the old one entered-in-error)")
        first_seen[respondent] = place
        row: dict[str, Any] = {id_column: respondent}
        if status_column:
            row[status_column] = status
        for link_id, answer_list, item_path in _response_items(response.get("item"), "item", f"{where}: {label}"):
            item = items_by_id.get(link_id)
            here = f"{where}: {label}, linkId '{link_id}'"
            if item is None:
                raise DataError(f"{here} ({item_path}): form '{form.id}' has no such item; is this the right form?")
            if link_id in row:
                raise DataError(f"{here} ({item_path}): the item is answered twice in one response")
            row[link_id] = _answer_value(answer_list, item, here)
        rows.append(row)

    columns = [id_column, *([status_column] if status_column else []), *form.item_ids]
    table = pd.DataFrame({c: [r.get(c, np.nan) for r in rows] for c in columns}, columns=columns)
    table[id_column] = table[id_column].astype(object)
    result = validate_responses(table, form, source=where, first_row=0, row_word="response", id_column=id_column)
    result.attrs.update(fhir_entered_in_error=entered_in_error, fhir_questionnaire_versions=sorted(versions),
                        form_version_matches=versions <= {form.content_hash})
    return result


def _respondent_of(response: Mapping[str, Any]) -> str:
    identifier = response.get("identifier")
    if isinstance(identifier, list):  # R5 allows several identifiers; take the first
        identifier = identifier[0] if identifier else None
    if isinstance(identifier, dict) and _cell_text(identifier.get("value")):
        return _cell_text(identifier.get("value"))
    subject = response.get("subject")
    if isinstance(subject, dict):
        subject_identifier = subject.get("identifier")
        if isinstance(subject_identifier, dict) and _cell_text(subject_identifier.get("value")):
            return _cell_text(subject_identifier.get("value"))
    return _cell_text(response.get("id"))


def _response_items(elements: Any, path: str, where: str) -> Iterator[tuple[str, list[Any], str]]:
    """Every (linkId, answers, location) of a response, nested groups and answer items flattened."""
    if elements is None:
        return
    if not isinstance(elements, list):
        raise DataError(f"{where}, field '{path}': expected a list of items")
    for index, element in enumerate(elements):
        here = f"{path}[{index}]"
        if not isinstance(element, dict) or not isinstance(element.get("linkId"), str):
            raise DataError(f"{where}, field '{here}': the item has no linkId")
        answers = element.get("answer") or []
        if not isinstance(answers, list):
            raise DataError(f"{where}, linkId '{element['linkId']}': 'answer' must be a list")
        if answers:
            yield element["linkId"], answers, here
        yield from _response_items(element.get("item"), f"{here}.item", where)
        for answer_index, answer in enumerate(answers):
            if isinstance(answer, dict):
                yield from _response_items(answer.get("item"), f"{here}.answer[{answer_index}].item", where)


def _answer_value(answers: list[Any], item: Item, here: str) -> float:
    if len(answers) > 1:
        raise DataError(f"{here}: {len(answers)} answers to a single-choice item; keep one")
    answer = answers[0]
    options = ", ".join(f"{o.value} {o.label}" for o in item.scale.options)
    if not isinstance(answer, dict):
        raise DataError(f"{here}: the answer is not an object")
    if isinstance(answer.get("valueCoding"), dict):
        coding = answer["valueCoding"]
        system = coding.get("system")
        if system and system != scale_system(item.scale):
            raise DataError(f"{here}: the answer's code system '{system}' is not the item's "
                            f"({scale_system(item.scale)}); answers are {options}")
        code = coding.get("code")
    elif "valueInteger" in answer:
        code = answer["valueInteger"]
    else:
        kinds = ", ".join(k for k in answer if k.startswith("value")) or "no value"
        raise DataError(f"{here}: the answer has {kinds}; expected a valueCoding (or valueInteger) from {options}")
    try:
        value = int(str(code).strip())
    except ValueError:
        value = None
    if value is None or value not in item.scale.values:
        raise DataError(f"{here}: answer code {code!r} is not an option of the item; answers are {options}")
    return float(value)
