"""Stored answers -> the scores, change and flags that staff pages show (via rctscale.scoring)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from rctscale.bank import Calibration, Form
from rctscale.errors import RctscaleError
from rctscale.report.respondent import RespondentReport, build_respondent_report
from rctscale.scoring import score
from rctscale.store.models import Administration
from rctscale.store.repository import StoredResponse
from rctscale.web.adaptive import stored_calibrations


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


def respondent_report(form: Form, referent: str, current: StoredResponse, previous: StoredResponse | None,
                      sample: dict[int, dict[str, int | None]]) -> RespondentReport:
    """Scores with 95 % SEM intervals, T and percentile when norms exist, change since ``previous``.

    Without norms the SEM uses the SD of ``sample`` (submitted responses to this form
    version), as :func:`rctscale.scoring.score` does for a scored sample. The report is built by
    :func:`rctscale.report.respondent.build_respondent_report`, as ``rctscale report respondent``'s is.
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
    return build_respondent_report(
        form, scores, current.response.id, current.answers, answered=current.answers.keys(),
        previous_key=previous.response.id if previous is not None else None, referent=referent,
        adaptive=bool(current.administration.adaptive),
        irt_source=(("simulated" if any(c.simulated for c in calibrations.values()) else "data")
                    if calibrations else None))
