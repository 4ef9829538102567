"""Load and validate response scales, banks and forms from YAML.

Every problem is reported as ``file:line: item 'id': what is wrong; what to do``; all the
problems of a file are collected before one :class:`BankError` is raised, so a user fixes
them in one pass.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from rctscale.bank.model import Bank, Facet, Form, Item, ResponseOption, ResponseScale, Scale
from rctscale.bank.yaml_source import LocatedDict, LocatedList, read_yaml
from rctscale.errors import BankError

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
ITEM_STATUSES = ("draft", "validated", "retired")
DIRECTIONS = ("self_to_other", "other_to_self")
BANK_KEYS = {"bank", "version", "title", "construct", "response_scale", "instructions", "facets", "items"}
FACET_KEYS = {"id", "name", "definition", "source"}
ITEM_KEYS = {"id", "facet", "text", "reverse", "status", "critical", "critical_values", "direction", "pair"}
FORM_KEYS = {
    "form",
    "version",
    "title",
    "referent",
    "time_frame",
    "instructions",
    "items",
    "scales",
    "norms",
    "simulation",
}
SCALE_KEYS = {"id", "name", "items", "min_answered", "reliability", "facets"}


def default_items_dir() -> Path:
    """The item banks shipped with rctscale (``items/`` in the source tree and the wheel).

    ``RCTSCALE_ITEMS`` names another directory with the same layout.
    """
    override = os.environ.get("RCTSCALE_ITEMS")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("rctscale.items")
    if spec is None or not spec.submodule_search_locations:
        raise BankError("the shipped item banks are missing from this installation; reinstall rctscale")
    return Path(next(iter(spec.submodule_search_locations)))


def content_hash(content: Any) -> str:
    """SHA-256 of the canonical JSON of parsed content: comments and layout do not count."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _Problems:
    """Collects the problems found in one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.messages.append(f"{self.path}:{line}: {message}")

    def raise_if_any(self) -> None:
        if self.messages:
            raise BankError("\n".join(self.messages))


def _require_mapping(document: Any, path: Path, what: str) -> LocatedDict:
    if not isinstance(document, LocatedDict):
        raise BankError(f"{path}:1: expected a YAML mapping describing {what}, found {type(document).__name__}")
    return document


def _check_keys(
    mapping: LocatedDict, allowed: set[str], required: Iterable[str], where: str, problems: _Problems
) -> None:
    for key in mapping:
        if key not in allowed:
            problems.add(mapping.line_of(key), f"{where}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")
    for key in required:
        if key not in mapping or mapping[key] is None or (isinstance(mapping[key], str) and not mapping[key].strip()):
            problems.add(mapping.line, f"{where}: '{key}' is missing or empty")


def _text(mapping: LocatedDict, key: str) -> str:
    value = mapping.get(key)
    return value.strip() if isinstance(value, str) else ""


# ---------------------------------------------------------------- response scales


def load_scales(items_dir: Path | None = None) -> dict[str, ResponseScale]:
    """The response scales of ``scales.yaml``."""
    return dict(_load_scales_cached(_resolve_dir(items_dir)))


@lru_cache(maxsize=8)
def _load_scales_cached(items_dir: Path) -> tuple[tuple[str, ResponseScale], ...]:
    path = items_dir / "scales.yaml"
    document = _require_mapping(read_yaml(path), path, "response scales")
    problems = _Problems(path)
    scales_node = document.get("scales")
    if not isinstance(scales_node, LocatedDict) or not scales_node:
        raise BankError(f"{path}:{document.line}: expected 'scales:' mapping scale ids to their options")
    scales: list[tuple[str, ResponseScale]] = []
    for scale_id, node in scales_node.items():
        line = scales_node.line_of(scale_id)
        if not isinstance(node, LocatedDict):
            problems.add(line, f"scale '{scale_id}': expected a mapping with 'name' and 'values'")
            continue
        values = node.get("values")
        if not isinstance(values, LocatedList) or len(values) < 2:
            problems.add(line, f"scale '{scale_id}': 'values' must list at least two options")
            continue
        options = []
        for option, option_line in zip(values, values.item_lines, strict=True):
            if (
                not isinstance(option, dict)
                or not isinstance(option.get("value"), int)
                or isinstance(option.get("value"), bool)
            ):
                problems.add(option_line, f"scale '{scale_id}': each option needs an integer 'value'")
                continue
            label = option.get("label")
            if not isinstance(label, str) or not label.strip():
                problems.add(option_line, f"scale '{scale_id}': option {option['value']} has no label")
                continue
            options.append(ResponseOption(option["value"], label.strip()))
        numbers = [option.value for option in options]
        if numbers != sorted(set(numbers)):
            problems.add(values.line, f"scale '{scale_id}': option values must be unique and ascending")
        if numbers and numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            problems.add(values.line, f"scale '{scale_id}': option values must be consecutive integers")
        scales.append((scale_id, ResponseScale(scale_id, _text(node, "name") or scale_id, tuple(options))))
    problems.raise_if_any()
    return tuple(scales)


def _resolve_dir(items_dir: Path | str | None) -> Path:
    return Path(items_dir).resolve() if items_dir is not None else default_items_dir().resolve()


# ---------------------------------------------------------------- banks


def bank_paths(items_dir: Path | None = None) -> list[Path]:
    """The bank files of an items directory (every ``*.yaml`` but ``scales.yaml``)."""
    directory = _resolve_dir(items_dir)
    return sorted(p for p in directory.glob("*.yaml") if p.name != "scales.yaml")


def load_bank(name_or_path: str | Path, items_dir: Path | None = None) -> Bank:
    """Load and validate one item bank: a name under ``items/`` or a path to a YAML file."""
    path, directory = _locate(name_or_path, items_dir, subfolder=None, kind="bank")
    return _load_bank_cached(path, directory, _mtime(path))


def _mtime(path: Path) -> float:
    return path.stat().st_mtime_ns if path.exists() else 0.0


def _locate(name_or_path: str | Path, items_dir: Path | None, subfolder: str | None, kind: str) -> tuple[Path, Path]:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.exists():
            raise BankError(f"{candidate}: {kind} file not found")
        path = candidate.resolve()
        if items_dir is not None:
            return path, _resolve_dir(items_dir)
        directory = path.parent.parent if subfolder and path.parent.name == subfolder else path.parent
        if not (directory / "scales.yaml").exists():
            directory = default_items_dir().resolve()
        return path, directory
    directory = _resolve_dir(items_dir)
    folder = directory / subfolder if subfolder else directory
    path = folder / f"{name_or_path}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in folder.glob("*.yaml") if p.name != "scales.yaml")
        raise BankError(f"no {kind} named '{name_or_path}' in {folder} (known: {', '.join(known) or 'none'})")
    return path, directory


@lru_cache(maxsize=64)
def _load_bank_cached(path: Path, items_dir: Path, _mtime_ns: float) -> Bank:
    document = _require_mapping(read_yaml(path), path, "an item bank")
    problems = _Problems(path)
    _check_keys(
        document,
        BANK_KEYS,
        ("bank", "title", "construct", "response_scale", "instructions", "facets", "items"),
        "bank",
        problems,
    )
    bank_id = _text(document, "bank")
    if bank_id and not ID_PATTERN.match(bank_id):
        problems.add(document.line_of("bank"), f"bank id '{bank_id}' must be lowercase letters, digits, underscores")
    scales = load_scales(items_dir)
    scale_id = _text(document, "response_scale")
    scale = scales.get(scale_id)
    if scale_id and scale is None:
        problems.add(
            document.line_of("response_scale"),
            f"response scale '{scale_id}' is not in scales.yaml (known: {', '.join(scales)})",
        )
    facets = _parse_facets(document, problems)
    facet_ids = [facet.id for facet in facets]
    items = _parse_items(document, bank_id, facet_ids, scale, problems)
    problems.raise_if_any()
    assert scale is not None
    return Bank(
        id=bank_id,
        version=str(document.get("version", "")),
        title=_text(document, "title"),
        construct=_text(document, "construct"),
        instructions=_text(document, "instructions"),
        scale=scale,
        facets=tuple(facets),
        items=tuple(items),
        path=path,
        content_hash=content_hash({"bank": document, "scale": _scale_content(scale)}),
    )


def _scale_content(scale: ResponseScale) -> dict[str, Any]:
    return {"id": scale.id, "options": [[o.value, o.label] for o in scale.options]}


def _parse_facets(document: LocatedDict, problems: _Problems) -> list[Facet]:
    node = document.get("facets")
    if node is None:
        return []
    if not isinstance(node, LocatedList):
        problems.add(document.line_of("facets"), "'facets' must be a list")
        return []
    facets: list[Facet] = []
    seen: set[str] = set()
    for entry, line in zip(node, node.item_lines, strict=True):
        if not isinstance(entry, LocatedDict):
            problems.add(line, "each facet must be a mapping with id, name, definition, source")
            continue
        facet_id = _text(entry, "id")
        where = f"facet '{facet_id or '?'}'"
        _check_keys(entry, FACET_KEYS, ("id", "name", "definition", "source"), where, problems)
        if facet_id and not ID_PATTERN.match(facet_id):
            problems.add(line, f"{where}: id must be lowercase letters, digits, underscores")
        if facet_id in seen:
            problems.add(line, f"{where}: duplicate facet id")
        seen.add(facet_id)
        facets.append(Facet(facet_id, _text(entry, "name"), _text(entry, "definition"), _text(entry, "source")))
    return facets


def _parse_items(
    document: LocatedDict, bank_id: str, facet_ids: list[str], scale: ResponseScale | None, problems: _Problems
) -> list[Item]:
    node = document.get("items")
    if node is None:
        return []
    if not isinstance(node, LocatedList):
        problems.add(document.line_of("items"), "'items' must be a list")
        return []
    items: list[Item] = []
    seen: dict[str, int] = {}
    for entry, line in zip(node, node.item_lines, strict=True):
        if not isinstance(entry, LocatedDict):
            problems.add(line, "each item must be a mapping with id, facet, text, reverse, status")
            continue
        item_id = _text(entry, "id") or str(entry.get("id") or "")
        where = f"item '{item_id or '?'}'"
        _check_keys(entry, ITEM_KEYS, ("id", "facet", "text", "status"), where, problems)
        if item_id and not ID_PATTERN.match(item_id):
            problems.add(line, f"{where}: id must be lowercase letters, digits, underscores")
        if item_id in seen:
            problems.add(line, f"{where}: duplicate item id (first defined on line {seen[item_id]})")
        else:
            seen[item_id] = line
        facet = _text(entry, "facet")
        if facet and facet not in facet_ids:
            problems.add(
                entry.line_of("facet"), f"{where}: unknown facet '{facet}' (this bank's facets: {', '.join(facet_ids)})"
            )
        reverse = entry.get("reverse", False)
        if not isinstance(reverse, bool):
            problems.add(entry.line_of("reverse"), f"{where}: 'reverse' must be true or false, got {reverse!r}")
        status = _text(entry, "status")
        if status and status not in ITEM_STATUSES:
            problems.add(
                entry.line_of("status"), f"{where}: status '{status}' must be one of {', '.join(ITEM_STATUSES)}"
            )
        critical = entry.get("critical", False)
        if not isinstance(critical, bool):
            problems.add(entry.line_of("critical"), f"{where}: 'critical' must be true or false")
        critical_values = entry.get("critical_values") or []
        if not isinstance(critical_values, list):
            problems.add(entry.line_of("critical_values"), f"{where}: 'critical_values' must be a list of answers")
            critical_values = []
        if scale is not None:
            for value in critical_values:
                if value not in scale.values:
                    problems.add(
                        entry.line_of("critical_values"),
                        f"{where}: answer value {value!r} is outside the response scale "
                        f"'{scale.id}' ({scale.minimum}..{scale.maximum})",
                    )
        direction = entry.get("direction")
        if direction is not None and direction not in DIRECTIONS:
            problems.add(
                entry.line_of("direction"), f"{where}: direction '{direction}' must be one of {', '.join(DIRECTIONS)}"
            )
        if scale is None:
            continue
        items.append(
            Item(
                id=item_id,
                bank=bank_id,
                facet=facet,
                text=_text(entry, "text"),
                reverse=bool(reverse),
                status=status,
                scale=scale,
                critical=bool(critical),
                critical_values=tuple(int(v) for v in critical_values if isinstance(v, int)),
                direction=direction,
                pair=entry.get("pair"),
            )
        )
    by_id = {item.id: item for item in items}
    for entry in node:
        if not isinstance(entry, LocatedDict) or entry.get("pair") is None:
            continue
        item_id, pair = _text(entry, "id"), entry.get("pair")
        partner = by_id.get(pair)
        if partner is None:
            problems.add(entry.line_of("pair"), f"item '{item_id}': pair '{pair}' is not an item of this bank")
        elif partner.pair != item_id:
            problems.add(
                entry.line_of("pair"),
                f"item '{item_id}': its pair '{pair}' names '{partner.pair}' as its own pair; "
                "pairs must point at each other",
            )
        elif partner.direction == by_id[item_id].direction:
            problems.add(
                entry.line_of("pair"),
                f"item '{item_id}': its pair '{pair}' has the same direction; a pair runs both ways",
            )
    return items


# ---------------------------------------------------------------- forms


def form_paths(items_dir: Path | None = None) -> list[Path]:
    return sorted((_resolve_dir(items_dir) / "forms").glob("*.yaml"))


def load_form(name_or_path: str | Path, items_dir: Path | None = None) -> Form:
    """Load and validate a form: a name under ``items/forms/`` or a path to a YAML file."""
    path, directory = _locate(name_or_path, items_dir, subfolder="forms", kind="form")
    stamps = tuple(_mtime(p) for p in [path, *bank_paths(directory), directory / "scales.yaml"])
    return _load_form_cached(path, directory, stamps)


@lru_cache(maxsize=64)
def _load_form_cached(path: Path, items_dir: Path, _stamps: tuple[float, ...]) -> Form:
    document = _require_mapping(read_yaml(path), path, "a form")
    problems = _Problems(path)
    _check_keys(document, FORM_KEYS, ("form", "title", "referent", "time_frame", "items", "scales"), "form", problems)
    banks = [load_bank(p, items_dir) for p in bank_paths(items_dir)]
    catalogue: dict[str, Item] = {}
    for bank in banks:
        for item in bank.items:
            catalogue.setdefault(item.id, item)
    form_items = _parse_form_items(document, catalogue, problems)
    scales = _parse_form_scales(document, {item.id for item in form_items}, catalogue, problems)
    norms = document.get("norms")
    if norms is not None and not (items_dir / "norms" / f"{norms}.yaml").exists():
        problems.add(
            document.line_of("norms"),
            f"norm table '{norms}' not found in {items_dir / 'norms'}; "
            "build one with `rctscale norms build` or set norms: null",
        )
    simulation = document.get("simulation") or {}
    problems.raise_if_any()
    used_banks = tuple(b for b in banks if any(item.bank == b.id for item in form_items))
    hashed = {
        "form": document,
        "items": [_item_content(item) for item in form_items],
        "banks": {b.id: b.content_hash for b in used_banks},
    }
    instructions = _text(document, "instructions") or (used_banks[0].instructions if used_banks else "")
    return Form(
        id=_text(document, "form"),
        version=str(document.get("version", "")),
        title=_text(document, "title"),
        referent=_text(document, "referent"),
        time_frame=_text(document, "time_frame"),
        instructions=instructions,
        items=tuple(form_items),
        scales=tuple(scales),
        banks=used_banks,
        path=path,
        content_hash=content_hash(hashed),
        norms=norms,
        simulation=dict(simulation),
    )


def _item_content(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "bank": item.bank,
        "facet": item.facet,
        "text": item.text,
        "reverse": item.reverse,
        "scale": _scale_content(item.scale),
    }


def _parse_form_items(document: LocatedDict, catalogue: dict[str, Item], problems: _Problems) -> list[Item]:
    node = document.get("items")
    if not isinstance(node, LocatedList):
        if node is not None:
            problems.add(document.line_of("items"), "'items' must be a list of item ids")
        return []
    items: list[Item] = []
    seen: set[str] = set()
    for item_id, line in zip(node, node.item_lines, strict=True):
        if not isinstance(item_id, str):
            problems.add(
                line, f"items: expected an item id, found {type(item_id).__name__} {item_id!r}; list one id per entry"
            )
            continue
        if item_id in seen:
            problems.add(line, f"item '{item_id}': listed twice")
            continue
        seen.add(item_id)
        item = catalogue.get(str(item_id))
        if item is None:
            problems.add(
                line, f"item '{item_id}': no bank defines this item; check the id against `rctscale bank show`"
            )
            continue
        if item.status == "retired":
            problems.add(line, f"item '{item_id}': the item is retired; remove it from the form")
        items.append(item)
    return items


def _parse_form_scales(
    document: LocatedDict, form_item_ids: set[str], catalogue: dict[str, Item], problems: _Problems
) -> list[Scale]:
    node = document.get("scales")
    if not isinstance(node, LocatedList):
        if node is not None:
            problems.add(document.line_of("scales"), "'scales' must be a list")
        return []
    scales: list[Scale] = []
    seen: set[str] = set()
    for entry, line in zip(node, node.item_lines, strict=True):
        if not isinstance(entry, LocatedDict):
            problems.add(line, "each scale must be a mapping with id, name, items")
            continue
        scale_id = _text(entry, "id")
        where = f"scale '{scale_id or '?'}'"
        _check_keys(entry, SCALE_KEYS, ("id", "name", "items"), where, problems)
        if scale_id in seen:
            problems.add(line, f"{where}: duplicate scale id")
        seen.add(scale_id)
        if scale_id and not ID_PATTERN.match(scale_id):
            problems.add(line, f"{where}: id must be lowercase letters, digits, underscores")
        item_ids = entry.get("items") or []
        if not isinstance(item_ids, list):
            problems.add(entry.line_of("items"), f"{where}: 'items' must be a list of item ids")
            item_ids = []
        item_lines = getattr(item_ids, "item_lines", [entry.line] * len(item_ids))
        for item_id, item_line in zip(item_ids, item_lines, strict=True):
            if not isinstance(item_id, str):
                problems.add(item_line, f"{where}: expected an item id, found {item_id!r}")
                continue
            if item_id not in form_item_ids:
                known = "it is in a bank but not in this form's items" if item_id in catalogue else "no bank defines it"
                problems.add(item_line, f"{where}: item '{item_id}' cannot be scored: {known}")
        response_scales = {catalogue[i].scale.id for i in item_ids if i in catalogue}
        if len(response_scales) > 1:
            problems.add(
                line,
                f"{where}: items use different response scales ({', '.join(sorted(response_scales))}); "
                "a sum score needs one",
            )
        min_answered = entry.get("min_answered", 0.8)
        if not isinstance(min_answered, (int, float)) or isinstance(min_answered, bool) or not 0 < min_answered <= 1:
            problems.add(
                entry.line_of("min_answered"), f"{where}: min_answered must be a share in (0, 1], got {min_answered!r}"
            )
            min_answered = 0.8
        reliability = entry.get("reliability")
        if reliability is not None and (not isinstance(reliability, (int, float)) or not 0 < reliability < 1):
            problems.add(
                entry.line_of("reliability"),
                f"{where}: reliability must lie strictly between 0 and 1, got {reliability!r}",
            )
            reliability = None
        scales.append(
            Scale(
                id=scale_id,
                name=_text(entry, "name"),
                items=tuple(str(i) for i in item_ids),
                min_answered=float(min_answered),
                reliability=float(reliability) if reliability is not None else None,
                facets=bool(entry.get("facets", False)),
            )
        )
    return scales


# ---------------------------------------------------------------- the whole directory


def validate_items_dir(items_dir: Path | None = None) -> list[str]:
    """Validate every scale, bank and form of a directory.

    Returns notes (guideline shortfalls that do not stop use); raises BankError listing
    every error of every file.
    """
    directory = _resolve_dir(items_dir)
    errors: list[str] = []
    notes: list[str] = []
    banks: list[Bank] = []
    try:
        load_scales(directory)
    except BankError as error:
        raise BankError(str(error)) from None
    for path in bank_paths(directory):
        try:
            banks.append(load_bank(path, directory))
        except BankError as error:
            errors.append(str(error))
    owner: dict[str, str] = {}
    for bank in banks:
        for item in bank.items:
            if item.id in owner:
                errors.append(
                    f"{bank.path}: item '{item.id}': the id is also used in bank '{owner[item.id]}'; "
                    "item ids must be unique across banks"
                )
            owner[item.id] = bank.id
        notes.extend(bank_guideline_notes(bank))
    if not errors:
        for path in form_paths(directory):
            try:
                load_form(path, directory)
            except BankError as error:
                errors.append(str(error))
        errors.extend(_calibration_problems(directory, banks))
    if errors:
        raise BankError("\n".join(errors))
    return notes


def _calibration_problems(directory: Path, banks: list[Bank]) -> list[str]:
    """Calibration files beside the banks that are malformed or fit no current bank."""
    from rctscale.bank.calibration import calibration_dir, read_calibration  # it imports this module
    from rctscale.errors import CalibrationError

    by_id = {bank.id: bank for bank in banks}
    problems = []
    for path in sorted(calibration_dir(directory).glob("*.yaml")):
        try:
            calibration = read_calibration(path)
            bank = by_id.get(calibration.bank)
            if bank is None:
                problems.append(f"{path}: calibration of bank '{calibration.bank}', which is not in {directory}")
            else:
                calibration.check_bank(bank)
        except CalibrationError as error:
            problems.append(str(error))
    return problems


def bank_guideline_notes(bank: Bank) -> list[str]:
    """Where a bank falls short of the item-writing guidelines (not errors)."""
    notes: list[str] = []
    if len(bank.items) < 24:
        notes.append(f"{bank.path}: bank '{bank.id}' has {len(bank.items)} items; a bank should have at least 24")
    for facet in bank.facets:
        count = sum(item.facet == facet.id for item in bank.items)
        if count < 4:
            notes.append(f"{bank.path}: facet '{facet.id}' has {count} items; a facet needs at least 4")
    share = sum(item.reverse for item in bank.items) / max(len(bank.items), 1)
    if not 0.15 <= share <= 0.35:
        notes.append(f"{bank.path}: {share:.0%} of items are reverse-keyed; about a quarter is usual")
    return notes
