"""Stored answers -> the scores, change and flags that staff pages show (via rctscale.scoring)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rctscale.bank import Calibration, Form
from rctscale.errors import RctscaleError
from rctscale.scoring import reliable_change, score
from rctscale.store.models import Administration
from rctscale.store.repository import StoredResponse
from rctscale.web.adaptive import stored_calibrations

Z95 = 1.96


def answers_frame(form: Form, answers_by_id: dict[int, dict[str, int | None]]) -> pd.DataFrame:
    """Wide answers, one row per response id; "prefer not to answer" and unanswered are both missing."""
    rows = [{"id": rid, **{item_id: answers.get(item_id) for item_id in form.item_ids}}
            for rid, answers in answers_by_id.items()]
    frame = pd.DataFrame(rows, columns=["id", *form.item_ids])
    frame[form.item_ids] = frame[form.item_ids].astype(float)
    return frame.set_index(pd.Index(frame["id"], name=None))


def score_answers(form: Form, answers_by_id: dict[int, dict[str, int | None]], *,
                  irt: Mapping[str, Calibration] | None = None) -> pd.DataFrame:
    """Scores of stored answers; with ``irt`` (item calibrations) also the IRT columns (theta, SE, T)."""
    if not answers_by_id:
        return pd.DataFrame()
    return score(form, answers_frame(form, answers_by_id), irt=irt or None)


def calibrations_of(form: Form, administration: Administration) -> dict[str, Calibration] | None:
    """The item calibrations an administration keeps (adaptive, or created with --calibration), if any.

    IRT scores are computed when a report is made, from the stored answers and this calibration,
    not stored at submission: EAP is a pure function of the two, and the calibration is frozen in
    the administration's row, so the scores cannot drift from the answers they come from.
    """
    try:
        return stored_calibrations(form, administration)
    except RctscaleError:  # a calibration that no longer fits the form's banks scores nothing
        return None


def critical_answers(form: Form, answers: dict[str, int | None]) -> list[dict]:
    """Critical items answered in a worrying way, in form order."""
    flagged = []
    for item in form.items:
        value = answers.get(item.id)
        if item.is_critical_answer(value):
            flagged.append({"id": item.id, "value": value, "label": item.scale.label_of(value)})  # type: ignore[arg-type]
    return flagged


@dataclass(frozen=True)
class ScaleReport:
    id: str
    name: str
    n_items: int
    n_answered: int
    prorated: bool
    sum: float
    mean: float
    sem: float
    low: float
    high: float
    t: float
    percentile: float
    # IRT scores (NaN without a calibration, and for facet subscales): EAP theta from the items
    # answered, its posterior SD, and the T metric 50 + 10 theta of the calibration sample.
    theta: float = float("nan")
    theta_se: float = float("nan")
    irt_t: float = float("nan")


@dataclass(frozen=True)
class RespondentReport:
    scales: list[ScaleReport]
    has_norms: bool
    norms_name: str | None
    sem_sample_size: int
    change: list[dict] | None
    unanswered: list[str]
    declined: list[str]
    critical: list[dict]
    items: list[dict]
    adaptive: bool = False                     # asked by CAT: few items per scale, so read theta, not sums
    irt_source: str | None = None              # "data" or "simulated" (then say so), None without IRT


def respondent_report(form: Form, referent: str, current: StoredResponse, previous: StoredResponse | None,
                      sample: dict[int, dict[str, int | None]]) -> RespondentReport:
    """Scores with 95 % SEM intervals, T and percentile when norms exist, change since ``previous``.

    Without norms the SEM uses the SD of ``sample`` (submitted responses to this form
    version), as :func:`rctscale.scoring.score` does for a scored sample.
    """
    everyone = dict(sample)
    everyone[current.response.id] = current.answers
    if previous is not None:
        everyone[previous.response.id] = previous.answers
    calibrations = calibrations_of(form, current.administration)
    try:
        scores = score_answers(form, everyone, irt=calibrations)
    except RctscaleError:  # e.g. the form names norms that no longer fit: report without them
        scores = score(form, answers_frame(form, everyone), norms=False, irt=calibrations or None)
    row = scores.loc[current.response.id]
    scales = []
    for scale in form.scored_scales():
        sum_, sem = _float(row[f"{scale.id}_sum"]), _float(row[f"{scale.id}_sem"])
        scales.append(ScaleReport(
            scale.id, scale.name, int(row[f"{scale.id}_n_items"]), int(row[f"{scale.id}_n_answered"]),
            bool(row[f"{scale.id}_prorated"]), sum_, _float(row[f"{scale.id}_mean"]), sem,
            sum_ - Z95 * sem, sum_ + Z95 * sem, _float(row[f"{scale.id}_t"]), _float(row[f"{scale.id}_percentile"]),
            _float(row.get(f"{scale.id}_theta")), _float(row.get(f"{scale.id}_theta_se")),
            _float(row.get(f"{scale.id}_irt_t"))))
    change = None
    if previous is not None:
        table = reliable_change(form, scores.loc[previous.response.id], row)
        change = [{"scale": scale_id, **{k: (None if isinstance(v, float) and math.isnan(v) else v)
                                         for k, v in values.items()}}
                  for scale_id, values in table.to_dict(orient="index").items()]
    items = []
    for item in form.items:
        answered = item.id in current.answers
        value = current.answers.get(item.id)
        items.append({"id": item.id, "text": item.text_for(referent), "value": value,
                      "answer": (item.scale.label_of(value) if value is not None else "Prefer not to answer")
                      if answered else "Not answered",
                      "reverse": item.reverse, "critical": item.is_critical_answer(value)})
    return RespondentReport(
        scales=scales, has_norms=bool(scores.attrs.get("norms")), norms_name=scores.attrs.get("norms"),
        sem_sample_size=len(everyone), change=change,
        unanswered=[i.id for i in form.items if i.id not in current.answers],
        declined=[i.id for i in form.items if i.id in current.answers and current.answers[i.id] is None],
        critical=critical_answers(form, current.answers), items=items,
        adaptive=bool(current.administration.adaptive),
        irt_source=(("simulated" if any(c.simulated for c in calibrations.values()) else "data")
                    if calibrations else None))


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float(np.nan)
