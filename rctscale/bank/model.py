"""The item-bank model: response scales, facets, items, banks, scales of a form, forms.

Plain frozen dataclasses; loading and validation live in :mod:`rctscale.bank.load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ResponseOption:
    value: int
    label: str


@dataclass(frozen=True)
class ResponseScale:
    """An ordered set of answer options, e.g. Never (1) ... Always (5)."""

    id: str
    name: str
    options: tuple[ResponseOption, ...]

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(option.value for option in self.options)

    @property
    def minimum(self) -> int:
        return self.options[0].value

    @property
    def maximum(self) -> int:
        return self.options[-1].value

    def label_of(self, value: int) -> str:
        for option in self.options:
            if option.value == value:
                return option.label
        raise KeyError(value)


@dataclass(frozen=True)
class Facet:
    id: str
    name: str
    definition: str
    source: str


@dataclass(frozen=True)
class Item:
    """One statement a respondent answers on the bank's response scale."""

    id: str
    bank: str
    facet: str
    text: str
    reverse: bool
    status: str
    scale: ResponseScale
    critical: bool = False
    critical_values: tuple[int, ...] = ()
    direction: str | None = None
    pair: str | None = None

    def text_for(self, referent: str) -> str:
        """The item text with the form's relationship referent filled in."""
        return fill_referent(self.text, referent)

    def is_critical_answer(self, value: float | None) -> bool:
        """A critical item's answer that staff must see at once.

        A critical item states distress ("I feel beyond the reach of anyone's kindness"), so
        without stated ``critical_values`` its two highest raw answers count, whatever the
        item's keying within its scale.
        """
        if not self.critical or value is None or value != value:
            return False
        if self.critical_values:
            return int(value) in self.critical_values
        return int(value) in self.scale.values[-2:]


@dataclass(frozen=True)
class Bank:
    id: str
    version: str
    title: str
    construct: str
    instructions: str
    scale: ResponseScale
    facets: tuple[Facet, ...]
    items: tuple[Item, ...]
    path: Path
    content_hash: str

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def facet(self, facet_id: str) -> Facet:
        for facet in self.facets:
            if facet.id == facet_id:
                return facet
        raise KeyError(facet_id)


@dataclass(frozen=True)
class Scale:
    """A scored scale of a form: which items, how much must be answered, how reliable."""

    id: str
    name: str
    items: tuple[str, ...]
    min_answered: float = 0.8
    reliability: float | None = None
    facets: bool = False


@dataclass(frozen=True)
class Form:
    """What a respondent fills in: items in order, a referent, scales and norms."""

    id: str
    version: str
    title: str
    referent: str
    time_frame: str
    instructions: str
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    banks: tuple[Bank, ...]
    path: Path
    content_hash: str
    norms: str | None = None
    simulation: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def item_ids(self) -> list[str]:
        return [item.id for item in self.items]

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def scale(self, scale_id: str) -> Scale:
        for scale in self.scales:
            if scale.id == scale_id:
                return scale
        raise KeyError(scale_id)

    def reverse_keyed(self) -> list[str]:
        return [item.id for item in self.items if item.reverse]

    def scored_scales(self) -> list[Scale]:
        """The form's scales followed by one facet scale per bank facet when asked.

        Facet scales are named ``<scale>.<facet>`` and inherit the scale's missing-data rule;
        they carry no stated reliability (their SEM is left empty).
        """
        scored: list[Scale] = []
        for scale in self.scales:
            scored.append(scale)
            if not scale.facets:
                continue
            by_facet: dict[str, list[str]] = {}
            for item_id in scale.items:
                by_facet.setdefault(self.item(item_id).facet, []).append(item_id)
            for facet_id, item_ids in by_facet.items():
                facet_name = self._facet_name(item_ids[0], facet_id)
                scored.append(
                    Scale(
                        id=f"{scale.id}.{facet_id}",
                        name=f"{scale.name}: {facet_name}",
                        items=tuple(item_ids),
                        min_answered=scale.min_answered,
                    )
                )
        return scored

    def _facet_name(self, item_id: str, facet_id: str) -> str:
        bank_id = self.item(item_id).bank
        for bank in self.banks:
            if bank.id == bank_id:
                return bank.facet(facet_id).name
        return facet_id

    def instructions_text(self) -> str:
        text = self.instructions.replace("{time_frame}", self.time_frame)
        return fill_referent(text, self.referent)


def fill_referent(text: str, referent: str) -> str:
    """Fill ``{referent}`` and, at a sentence start, ``{Referent}``."""
    capitalised = referent[:1].upper() + referent[1:]
    return text.replace("{Referent}", capitalised).replace("{referent}", referent)
