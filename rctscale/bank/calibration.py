"""Item calibrations: graded-response-model parameters of a bank's items, stored beside the bank.

A calibration is data, like the bank it belongs to: one YAML file per bank,
``items/calibration/<bank>.yaml`` (``rctscale calibrate`` writes it; the format is in
``items/README.md``). It records where the parameters came from (data file and its hash, the
form, the sample size, the date, and whether the data were simulated) and the content hash of
the bank it was fitted to; loading it against a bank whose content has changed since is an
error, because the parameters describe items that no longer read the same.

A file holds one or more *calibrated scales*: the GRM is fitted per scale of the form, not per
bank, because a unidimensional model needs one trait — the shame bank's five guilt markers are a
scale of their own (guilt), and fitting them together with the shame items would bend the shame
trait towards guilt.

Parameters are for *keyed* answers: a reverse-keyed item's answer ``x`` is taken as
``min + max - x`` before it meets the model, so a high theta means a high scale score, as the sum
score does. This module only reads, checks and writes the files (it imports nothing of the
project but the errors); fitting and scoring live in :mod:`rctscale.calibrate`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from rctscale.bank.load import default_items_dir
from rctscale.bank.model import Bank
from rctscale.errors import CalibrationError

CALIBRATION_FORMAT = 1
CALIBRATION_FOLDER = "calibration"
SOURCES = ("data", "simulated")
MODEL_DESCRIPTION = ("graded response model (Samejima, 1969), one trait per scale, marginal maximum likelihood "
                     "(Bock-Aitkin EM); theta ~ N(0, 1) in the calibration sample")
KEYING_NOTE = "answers of reverse-keyed items are reversed (min + max - x) before they meet the model"
# Digits kept in the file: far below any standard error, and short enough to read.
DIGITS = 6


@dataclass(frozen=True)
class CalibratedItem:
    """One item's GRM parameters: slope ``a`` and thresholds ``b1 < b2 < ...`` (IRT metric).

    ``categories`` are the keyed answer values the model's categories ``0 .. K-1`` stand for
    (the answers observed in the calibration sample); ``K - 1`` thresholds separate them.
    """

    id: str
    a: float
    thresholds: tuple[float, ...]
    categories: tuple[int, ...]
    a_se: float | None = None
    thresholds_se: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class CalibratedScale:
    """The GRM fitted to one scale's items in one sample."""

    id: str
    name: str
    n: int
    loglik: float
    converged: bool
    iterations: int
    items: tuple[CalibratedItem, ...]

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)

    def item(self, item_id: str) -> CalibratedItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def parameters(self, item_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Items x ``a, b1, b2, ...`` (NaN where an item has fewer thresholds), for the psychometrics."""
        chosen = [self.item(i) for i in item_ids] if item_ids is not None else list(self.items)
        width = max((len(item.thresholds) for item in chosen), default=0)
        rows = {item.id: {"a": item.a, **{f"b{k + 1}": (item.thresholds[k] if k < len(item.thresholds) else math.nan)
                                         for k in range(width)}}
                for item in chosen}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["a", *(f"b{k + 1}" for k in range(width))])
        frame.index.name = "item"
        return frame

    def categories(self, item_ids: Iterable[str] | None = None) -> dict[str, tuple[int, ...]]:
        chosen = [self.item(i) for i in item_ids] if item_ids is not None else list(self.items)
        return {item.id: item.categories for item in chosen}


@dataclass(frozen=True)
class Calibration:
    """The calibrated scales of one bank, with where they came from."""

    bank: str
    bank_version: str
    bank_hash: str
    source: str                 # "data" or "simulated"
    data: str                   # the data file's name as given
    data_hash: str | None
    form: str
    form_hash: str
    created: str                # ISO date
    software: str
    scales: tuple[CalibratedScale, ...]
    path: Path | None = field(default=None, compare=False)

    @property
    def simulated(self) -> bool:
        return self.source == "simulated"

    def scale(self, scale_id: str) -> CalibratedScale:
        for scale in self.scales:
            if scale.id == scale_id:
                return scale
        known = ", ".join(s.id for s in self.scales)
        raise CalibrationError(f"{self._where()}: no calibrated scale '{scale_id}' (this file has: {known})")

    def scale_covering(self, item_ids: Iterable[str], prefer: str | None = None) -> CalibratedScale | None:
        """The calibrated scale holding every one of ``item_ids``: the one named ``prefer`` if it
        does, else the smallest (the most specific trait) that does."""
        wanted = set(item_ids)
        covering = [s for s in self.scales if wanted <= set(s.item_ids)]
        for scale in covering:
            if scale.id == prefer:
                return scale
        return min(covering, key=lambda s: len(s.items), default=None)

    def check_bank(self, bank: Bank) -> None:
        """Raise unless this calibration was fitted to ``bank`` as it reads now."""
        if self.bank != bank.id:
            raise CalibrationError(f"{self._where()}: the calibration is for bank '{self.bank}', not '{bank.id}'")
        if self.bank_hash != bank.content_hash:
            raise CalibrationError(
                f"{self._where()}: the calibration is for another version of bank '{bank.id}' (calibrated "
                f"{self.bank_hash}, version {self.bank_version}; the bank is now {bank.content_hash}, version "
                f"{bank.version}); its items have changed since, so recalibrate with `rctscale calibrate`")
        known = {item.id for item in bank.items}
        for scale in self.scales:
            strangers = [i for i in scale.item_ids if i not in known]
            if strangers:
                raise CalibrationError(f"{self._where()}: scale '{scale.id}' names item(s) not in bank '{bank.id}': "
                                       f"{', '.join(strangers[:5])}")

    def _where(self) -> str:
        return str(self.path) if self.path is not None else f"calibration of bank '{self.bank}'"

    # ------------------------------------------------------------------ the file

    def to_document(self) -> dict[str, Any]:
        """The YAML document (plain dicts, lists and numbers; also what an administration stores)."""
        return {
            "calibration_format": CALIBRATION_FORMAT,
            "bank": self.bank,
            "bank_version": self.bank_version,
            "bank_hash": self.bank_hash,
            "source": self.source,
            "data": self.data,
            "data_hash": self.data_hash,
            "form": self.form,
            "form_hash": self.form_hash,
            "created": self.created,
            "software": self.software,
            "model": MODEL_DESCRIPTION,
            "keying": KEYING_NOTE,
            "scales": {scale.id: _scale_document(scale) for scale in self.scales},
        }

    def to_yaml(self) -> str:
        header = (f"# Item parameters of bank '{self.bank}' (graded response model), written by rctscale calibrate.\n"
                  "# a: discrimination; thresholds: b1 < b2 < ... on the theta metric; *_se: standard errors;\n"
                  "# categories: the (keyed) answers the model's categories stand for.\n")
        if self.simulated:
            header += ("# SIMULATED: these parameters were fitted to simulated responses, not to answers of real\n"
                       "# people. They show how the software works; they are not a calibration of the items.\n")
        return header + yaml.safe_dump(self.to_document(), sort_keys=False, allow_unicode=True,
                                       default_flow_style=None, width=120)

    @classmethod
    def from_document(cls, document: Any, path: Path | None = None) -> Calibration:
        """Read a document :meth:`to_document` wrote; every problem names the file and the entry."""
        where = str(path) if path is not None else "calibration"
        if not isinstance(document, Mapping) or "scales" not in document or "bank" not in document:
            raise CalibrationError(f"{where}: not an item calibration (it needs 'bank:' and 'scales:'); write one "
                                   "with `rctscale calibrate`")
        if document.get("calibration_format", CALIBRATION_FORMAT) != CALIBRATION_FORMAT:
            raise CalibrationError(f"{where}: calibration format {document.get('calibration_format')!r} is not "
                                   f"the one this rctscale reads ({CALIBRATION_FORMAT}); recalibrate")
        source = str(document.get("source", ""))
        if source not in SOURCES:
            raise CalibrationError(f"{where}: 'source' must be one of {', '.join(SOURCES)}, got {source!r}")
        scales_node = document["scales"]
        if not isinstance(scales_node, Mapping) or not scales_node:
            raise CalibrationError(f"{where}: 'scales' must map scale ids to their calibrated items")
        scales = tuple(_scale_from_document(str(scale_id), node, where) for scale_id, node in scales_node.items())
        try:
            return cls(
                bank=str(document["bank"]), bank_version=str(document.get("bank_version", "")),
                bank_hash=str(document["bank_hash"]), source=source, data=str(document.get("data", "")),
                data_hash=None if document.get("data_hash") is None else str(document["data_hash"]),
                form=str(document.get("form", "")), form_hash=str(document.get("form_hash", "")),
                created=str(document.get("created", "")), software=str(document.get("software", "")),
                scales=scales, path=path)
        except KeyError as missing:
            raise CalibrationError(f"{where}: {missing} is missing") from None


def _rounded(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), DIGITS)


def _scale_document(scale: CalibratedScale) -> dict[str, Any]:
    return {
        "name": scale.name,
        "n": scale.n,
        "loglik": round(scale.loglik, 4),
        "converged": scale.converged,
        "iterations": scale.iterations,
        "items": {item.id: {
            "a": _rounded(item.a),
            "a_se": _rounded(item.a_se),
            "thresholds": [_rounded(b) for b in item.thresholds],
            "thresholds_se": [_rounded(s) for s in item.thresholds_se],
            "categories": list(item.categories),
        } for item in scale.items},
    }


def _number(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CalibrationError(f"{where}: {what} must be a number, got {value!r}")
    return float(value)


def _optional_number(value: Any, what: str, where: str) -> float | None:
    return None if value is None else _number(value, what, where)


def _scale_from_document(scale_id: str, node: Any, where: str) -> CalibratedScale:
    here = f"{where}: scale '{scale_id}'"
    if not isinstance(node, Mapping) or not isinstance(node.get("items"), Mapping) or not node["items"]:
        raise CalibrationError(f"{here}: needs 'items' mapping item ids to a, thresholds and categories")
    items = []
    for item_id, entry in node["items"].items():
        at = f"{here}, item '{item_id}'"
        if not isinstance(entry, Mapping):
            raise CalibrationError(f"{at}: expected a mapping with a, thresholds, categories")
        a = _number(entry.get("a"), "a", at)
        if a <= 0:
            raise CalibrationError(f"{at}: a must be positive (answers are keyed), got {a}")
        thresholds = entry.get("thresholds")
        categories = entry.get("categories")
        if not isinstance(thresholds, Sequence) or not thresholds:
            raise CalibrationError(f"{at}: 'thresholds' must list at least one number")
        values = tuple(_number(b, "a threshold", at) for b in thresholds)
        if any(later <= earlier for earlier, later in zip(values, values[1:], strict=False)):
            raise CalibrationError(f"{at}: thresholds must increase, got {list(values)}")
        if (not isinstance(categories, Sequence) or len(categories) != len(values) + 1
                or not all(isinstance(c, int) and not isinstance(c, bool) for c in categories)
                or list(categories) != sorted(set(categories))):
            raise CalibrationError(f"{at}: 'categories' must list {len(values) + 1} increasing integer answers, "
                                   f"one more than the thresholds, got {categories!r}")
        errors = entry.get("thresholds_se") or []
        if not isinstance(errors, Sequence) or (errors and len(errors) != len(values)):
            raise CalibrationError(f"{at}: 'thresholds_se' must list one standard error per threshold")
        items.append(CalibratedItem(
            id=str(item_id), a=a, thresholds=values, categories=tuple(int(c) for c in categories),
            a_se=_optional_number(entry.get("a_se"), "a_se", at),
            thresholds_se=tuple(_optional_number(s, "a threshold SE", at) for s in errors)))
    return CalibratedScale(
        id=scale_id, name=str(node.get("name", scale_id)), n=int(_number(node.get("n", 0), "n", here)),
        loglik=math.nan if node.get("loglik") is None else _number(node["loglik"], "loglik", here),
        converged=bool(node.get("converged", True)), iterations=int(node.get("iterations", 0) or 0),
        items=tuple(items))


# ---------------------------------------------------------------------- finding and loading


def calibration_dir(items_dir: Path | str | None = None) -> Path:
    """Where calibrations live beside the banks: ``<items>/calibration/``."""
    return (Path(items_dir) if items_dir is not None else default_items_dir()) / CALIBRATION_FOLDER


def calibration_path(bank_id: str, directory: Path | str | None = None) -> Path:
    """The file of one bank's calibration in ``directory`` (default: beside the shipped banks)."""
    return (Path(directory) if directory is not None else calibration_dir()) / f"{bank_id}.yaml"


def read_calibration(path: Path | str) -> Calibration:
    """Read one calibration file (no bank check: see :func:`load_calibration`)."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: calibration file not found; write one with `rctscale calibrate`")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise CalibrationError(f"{path}: not valid YAML: {error}") from None
    return Calibration.from_document(document, path)


def load_calibration(path: Path | str, bank: Bank) -> Calibration:
    """Read a calibration file and check that it belongs to ``bank`` as the bank reads now."""
    calibration = read_calibration(path)
    calibration.check_bank(bank)
    return calibration


def load_calibrations(source: Path | str | Sequence[Path | str] | None, banks: Iterable[Bank],
                      *, required: bool = False) -> dict[str, Calibration]:
    """The calibrations of ``banks`` found in ``source``, each checked against its bank.

    ``source`` is a directory holding ``<bank>.yaml`` files (default: ``items/calibration/``),
    one calibration file, or a list of files. A bank without a file is left out, unless
    ``required``; a file for a bank that is not among ``banks`` is ignored.
    """
    banks = list(banks)
    by_id = {bank.id: bank for bank in banks}
    found: dict[str, Calibration] = {}
    if source is None or isinstance(source, (str, Path)):
        directory = calibration_dir() if source is None else Path(source)
        if source is not None and not directory.exists():
            raise CalibrationError(f"{directory}: no such calibration file or directory")
        if directory.is_dir():
            paths = [calibration_path(bank.id, directory) for bank in banks]
            paths = [p for p in paths if p.is_file()]
        else:
            paths = [directory]
    else:
        paths = [Path(p) for p in source]
    for path in paths:
        calibration = read_calibration(path)
        bank = by_id.get(calibration.bank)
        if bank is None:
            continue
        calibration.check_bank(bank)
        found[bank.id] = calibration
    if required:
        missing = [bank.id for bank in banks if bank.id not in found]
        if missing:
            where = source if source is not None else calibration_dir()
            raise CalibrationError(f"no calibration of bank(s) {', '.join(missing)} in {where}; calibrate them with "
                                   "`rctscale calibrate DATA --form FORM`")
    return found


def calibrations_from_documents(documents: Mapping[str, Any], banks: Iterable[Bank]) -> dict[str, Calibration]:
    """Calibrations stored as documents (an administration keeps them so), each checked against its bank."""
    by_id = {bank.id: bank for bank in banks}
    found = {}
    for bank_id, document in documents.items():
        calibration = Calibration.from_document(document)
        bank = by_id.get(str(bank_id))
        if bank is None:
            raise CalibrationError(f"the stored calibration names bank '{bank_id}', which the form does not use")
        calibration.check_bank(bank)
        found[bank.id] = calibration
    return found
