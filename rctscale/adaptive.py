"""Adaptive administration: each calibrated scale of a form asked by a CAT, one item at a time.

An :class:`AdaptivePlan` turns a form and its banks' calibrations into one *section* per scale
of the form; a section is a :class:`rctscale.psychometrics.CATSession` over the scale's items
(its pool) with the administration's :class:`AdaptiveRules` — PROMIS's defaults: stop when the
standard error falls below 0.3 once 4 items are asked, never ask more than 12; every facet of
the bank once before any twice (content balancing); the next item drawn among the 3 most
informative (randomesque exposure control). Sections run in the order of the form's scales.

Everything here is a pure function of the stored answers: the CAT state of a section is rebuilt
from the answers to its pool (item selection depends on which items were asked and how they were
answered, not on the order), and the randomesque draws are seeded by a per-response seed, so the
web form can be left, resumed, reloaded or double-submitted and still asks the same next item.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from rctscale.bank import Bank, Form, Scale
from rctscale.bank.calibration import CalibratedScale, Calibration
from rctscale.calibrate import calibrated_scale_for, to_calibrated_categories
from rctscale.errors import CalibrationError, RctscaleError
from rctscale.psychometrics.cat import CATEstimate, CATRules, CATSession, CATSimulationResult, CATState, simulate_cat

# The project's goal for a CAT: agree with the full bank while asking at most half of it.
GOAL_CORRELATION_WITH_FULL_BANK = 0.95
GOAL_SHARE_OF_BANK = 0.5


@dataclass(frozen=True)
class AdaptiveRules:
    """The CAT rules an adaptive administration applies to every section (stored with it)."""

    se_target: float = 0.3
    min_items: int = 4
    max_items: int = 12
    randomesque: int = 3
    content_balancing: bool = True
    selection: Literal["MFI", "MPWI"] = "MFI"

    def __post_init__(self) -> None:
        try:
            self.cat_rules(None)  # CATRules checks the numbers and says what is wrong
        except RctscaleError as error:
            raise CalibrationError(f"adaptive rules: {error}") from None

    def cat_rules(self, facets: Mapping[str, str] | None) -> CATRules:
        return CATRules(selection=self.selection, min_items=self.min_items, max_items=self.max_items,
                        se_target=self.se_target, randomesque=self.randomesque,
                        facets=facets if self.content_balancing else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdaptiveRules:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def describe(self) -> str:
        parts = [f"SE < {self.se_target:g}", f"{self.min_items} to {self.max_items} items"]
        if self.content_balancing:
            parts.append("content-balanced across facets")
        if self.randomesque > 1:
            parts.append(f"randomesque among the {self.randomesque} best")
        return ", ".join(parts)


def response_seed(secret: str, scale_id: str) -> int:
    """A stable 63-bit seed for one response's section: the randomesque draws repeat on resume."""
    digest = hashlib.sha256(f"rctscale-cat:{secret}:{scale_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class AdaptiveSection:
    """One scale of the form, asked adaptively from its items (the pool)."""

    scale: Scale
    calibration: Calibration
    calibrated: CalibratedScale
    pool: tuple[str, ...]
    session: CATSession
    reverse: frozenset[str]
    keying_sum: dict[str, int] = field(repr=False)   # item -> min + max of its response scale

    @property
    def max_items(self) -> int:
        """The most items this section may ask: the rule, or the pool when it is smaller."""
        return min(self.session.rules.max_items, len(self.pool))

    def asked(self, answers: Mapping[str, int | None]) -> list[str]:
        """Items of the pool asked so far ("prefer not to answer" counts as asked), in pool order."""
        return [item_id for item_id in self.pool if item_id in answers]

    def keyed_answer(self, item_id: str, value: int | None) -> float | None:
        """A raw answer as the calibration takes it: keyed, and on a calibrated category."""
        if value is None:
            return None
        keyed = self.keying_sum[item_id] - value if item_id in self.reverse else value
        categories = self.calibrated.item(item_id).categories
        return float(to_calibrated_categories(np.array([float(keyed)]), categories)[0])

    def state(self, answers: Mapping[str, int | None], seed: int) -> CATState:
        # Item selection depends on the set of items asked and their answers, not on their order,
        # so the pool order stands in for the order asked.
        asked = self.asked(answers)
        return CATState(tuple(asked), tuple(self.keyed_answer(i, answers[i]) for i in asked), seed)

    def next_item(self, answers: Mapping[str, int | None], seed: int) -> str | None:
        return self.session.next_item(self.state(answers, seed))

    def estimate(self, answers: Mapping[str, int | None], seed: int) -> CATEstimate:
        return self.session.estimate(self.state(answers, seed))


@dataclass(frozen=True)
class CurrentQuestion:
    """Where an adaptive response stands: the section (0-based), its next item, how far it is."""

    section_index: int
    section: AdaptiveSection
    item_id: str
    number: int          # 1-based, within the section
    at_most: int


class AdaptivePlan:
    """The sections of an adaptive administration of ``form``; raises when a scale has no calibration."""

    def __init__(self, form: Form, calibrations: Mapping[str, Calibration], rules: AdaptiveRules) -> None:
        self.form = form
        self.rules = rules
        in_scales = {item_id for scale in form.scales for item_id in scale.items}
        loose = [item_id for item_id in form.item_ids if item_id not in in_scales]
        if loose:
            raise CalibrationError(f"form '{form.id}': item(s) {', '.join(loose[:8])} are in no scale; an adaptive "
                                   "administration asks only items of calibrated scales")
        sections = []
        for scale in form.scales:
            found = calibrated_scale_for(form, scale, calibrations)
            if found is None:
                banks = ", ".join(sorted({form.item(i).bank for i in scale.items}))
                raise CalibrationError(f"form '{form.id}': scale '{scale.id}' has no calibration (bank {banks}); "
                                       "calibrate it with `rctscale calibrate DATA --form FORM`")
            calibration, calibrated = found
            pool = tuple(item_id for item_id in form.item_ids if item_id in set(scale.items))
            facets = {item_id: form.item(item_id).facet for item_id in pool}
            session = CATSession(calibrated.parameters(pool), rules.cat_rules(facets),
                                 categories=calibrated.categories(pool))
            items = [form.item(item_id) for item_id in pool]
            sections.append(AdaptiveSection(
                scale=scale, calibration=calibration, calibrated=calibrated, pool=pool, session=session,
                reverse=frozenset(item.id for item in items if item.reverse),
                keying_sum={item.id: item.scale.minimum + item.scale.maximum for item in items}))
        self.sections: tuple[AdaptiveSection, ...] = tuple(sections)

    @property
    def simulated_calibration(self) -> bool:
        return any(section.calibration.simulated for section in self.sections)

    def current(self, answers: Mapping[str, int | None], seed_of: Callable[[str], int]) -> CurrentQuestion | None:
        """The question to ask now, or None when every section has stopped."""
        for index, section in enumerate(self.sections):
            item_id = section.next_item(answers, seed_of(section.scale.id))
            if item_id is not None:
                return CurrentQuestion(index, section, item_id, len(section.asked(answers)) + 1, section.max_items)
        return None

    def estimates(self, answers: Mapping[str, int | None], seed_of: Callable[[str], int]) -> dict[str, CATEstimate]:
        """Each section's EAP, SE and stop reason from the answers so far."""
        return {section.scale.id: section.estimate(answers, seed_of(section.scale.id)) for section in self.sections}


def administration_settings(form: Form, calibrations: Mapping[str, Calibration],
                            rules: AdaptiveRules | None) -> tuple[str | None, str]:
    """What an administration stores: the CAT rules (JSON, None when not adaptive) and the calibrations (JSON).

    With rules, the plan is built once here, so a scale without a calibration is refused when the
    administration is created, not when a respondent reaches it.
    """
    if rules is not None:
        AdaptivePlan(form, calibrations, rules)
    stored = json.dumps({bank_id: c.to_document() for bank_id, c in calibrations.items()}, sort_keys=True)
    return (json.dumps(rules.to_dict(), sort_keys=True) if rules is not None else None), stored


# ---------------------------------------------------------------------- simulation (rctscale cat simulate)


def default_scale_of(calibration: Calibration) -> CalibratedScale:
    """The calibrated scale that stands for a bank: the one named like the bank, else the largest."""
    for scale in calibration.scales:
        if scale.id == calibration.bank:
            return scale
    return max(calibration.scales, key=lambda s: len(s.items))


def simulate_bank_cat(bank: Bank, calibrated: CalibratedScale, rules: AdaptiveRules, *, n: int, seed: int,
                      theta: Literal["normal", "uniform"] = "uniform") -> CATSimulationResult:
    """Simulated respondents taking a CAT on one calibrated scale of ``bank``, against the full scale.

    Answers are drawn from the calibrated GRM; the CAT uses the same engine as the web form.
    """
    if n < 2:
        raise CalibrationError(f"simulate at least 2 respondents, got n={n}")
    pool = calibrated.item_ids
    facets = {item_id: bank.item(item_id).facet for item_id in pool}
    return simulate_cat(calibrated.parameters(pool), n=n, seed=seed, rules=rules.cat_rules(facets), theta=theta,
                        categories=calibrated.categories(pool),
                        bins=(-math.inf, -2.0, -1.0, 0.0, 1.0, 2.0, math.inf))


def simulation_summary(result: CATSimulationResult, *, bank: Bank, calibrated: CalibratedScale,
                       calibration: dict[str, Any], rules: AdaptiveRules) -> dict[str, Any]:
    """The JSON-ready figures of a CAT simulation, with the project's goal checked."""
    bank_size = len(calibrated.items)
    conditional = result.conditional.reset_index().rename(columns={"bin": "theta_bin"})
    conditional = conditional.replace({np.nan: None})
    exposure = result.exposure["rate"]
    return {
        "bank": bank.id,
        "bank_hash": bank.content_hash,
        "scale": calibrated.id,
        "bank_size": bank_size,
        "calibration": calibration,
        "rules": rules.to_dict(),
        "n": int(result.options["n"]),
        "seed": result.options["seed"],
        "theta_distribution": result.options["theta"],
        "mean_items": result.mean_items,
        "share_of_bank": result.mean_items / bank_size,
        "max_items_used": int(result.respondents["n_items"].max()),
        "correlation_full_bank": result.correlation_full_bank,
        "rmse_full_bank": result.rmse_full_bank,
        "correlation_true": result.correlation_true,
        "rmse_true": result.rmse_true,
        "full_bank_correlation_true": result.full_bank_correlation_true,
        "full_bank_rmse_true": result.full_bank_rmse_true,
        "mean_se": result.mean_se,
        "stop_reasons": {str(k): int(v) for k, v in result.respondents["stop_reason"].value_counts().items()},
        "conditional": conditional.to_dict(orient="records"),
        "exposure": {"max_rate": float(exposure.max()), "items_never_asked": int((exposure == 0).sum())},
        "goal": {
            "correlation_full_bank_at_least": GOAL_CORRELATION_WITH_FULL_BANK,
            "share_of_bank_at_most": GOAL_SHARE_OF_BANK,
            "met": bool(result.correlation_full_bank >= GOAL_CORRELATION_WITH_FULL_BANK
                        and result.mean_items <= GOAL_SHARE_OF_BANK * bank_size),
        },
    }


def conditional_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The by-theta-bin table of a :func:`simulation_summary`, for printing."""
    return pd.DataFrame(summary["conditional"]).set_index("theta_bin")
