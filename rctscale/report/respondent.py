"""The respondent report for clinicians: scores with SEM intervals, norms, change, flags, answers.

:func:`build_respondent_report` turns a row of :func:`rctscale.scoring.score` output and the
respondent's answers into a :class:`RespondentReport`; it computes nothing new (intervals are the
score ± 1.96 SEM that scoring gives, the change is :func:`rctscale.scoring.reliable_change`). Both
``rctscale report respondent`` and the web app's staff report page build their reports with it.
:func:`render_respondent_sections` renders the report's sections as an HTML fragment that the web
app's staff report page embeds (no inline style or script, so its CSP holds); and
:func:`render_respondent_report` wraps the same fragment in a self-contained page with its own
screen and print stylesheet for ``rctscale report respondent``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from rctscale.bank import Form
from rctscale.errors import DataError
from rctscale.report.formatting import install_filters
from rctscale.scoring import reliable_change, score

Z95 = 1.96

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("rctscale.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
install_filters(_environment)


@dataclass(frozen=True)
class ScaleScore:
    """One scale's score for the respondent; NaN where a value does not exist (no norms, no SEM...)."""

    id: str
    name: str
    n_items: int
    n_answered: int
    prorated: bool
    sum: float
    mean: float
    sem: float
    low: float   # sum - 1.96 SEM
    high: float  # sum + 1.96 SEM
    t: float
    percentile: float
    # IRT scores, when the scores came with item calibrations (NaN without, and for facet subscales):
    # EAP theta from the items answered, its posterior SD, and the T metric 50 + 10 theta of the
    # calibration sample.
    theta: float = float("nan")
    theta_se: float = float("nan")
    irt_t: float = float("nan")


@dataclass(frozen=True)
class RespondentReport:
    """What the clinician sees about one response; the field names are those the web's report uses."""

    scales: list[ScaleScore]
    has_norms: bool
    norms_name: str | None
    sem_sample_size: int
    change: list[dict[str, Any]] | None
    unanswered: list[str]
    declined: list[str]
    critical: list[dict[str, Any]]
    items: list[dict[str, Any]]
    adaptive: bool = False                     # asked by CAT: few items per scale, so read theta, not sums
    irt_source: str | None = None              # "data" or "simulated" (then say so), None without IRT
    sem_basis: dict[str, str] = field(default_factory=dict)


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float(np.nan)


def _plain(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _answered_value(value: Any) -> int | None:
    number = _float(value)
    return None if math.isnan(number) else int(number)


def critical_answers(form: Form, answers: Mapping[str, int | None]) -> list[dict[str, Any]]:
    """Critical items answered in a worrying way, in form order."""
    flagged = []
    for item in form.items:
        value = answers.get(item.id)
        if item.is_critical_answer(value):
            flagged.append({"id": item.id, "value": value, "label": item.scale.label_of(value)})  # type: ignore[arg-type]
    return flagged


def build_respondent_report(form: Form, scores: pd.DataFrame, key: Any, answers: Mapping[str, Any], *,
                            answered: Collection[str] | None = None, previous_scores: pd.DataFrame | None = None,
                            previous_key: Any = None, referent: str | None = None, adaptive: bool = False,
                            irt_source: str | None = None) -> RespondentReport:
    """The report of row ``key`` of ``scores`` (output of :func:`rctscale.scoring.score`).

    ``answers`` maps item ids to the raw answers (None or NaN: no answer); ``answered`` lists the
    items the respondent saw and answered, "prefer not to answer" included (default: those with an
    answer), so that declined and unanswered items can be told apart. The change is computed
    against row ``previous_key`` of ``previous_scores`` (default: ``scores``) when given. ``referent``
    fills the item texts (default: the form's); ``adaptive`` (asked by CAT) and ``irt_source``
    ("data" or "simulated" calibrations behind the scores' IRT columns) are passed through to the report.
    """
    row = scores.loc[key]
    answered_ids = set(answered) if answered is not None else {
        item_id for item_id, value in answers.items() if _answered_value(value) is not None}
    scales = []
    for scale in form.scored_scales():
        total, sem = _float(row[f"{scale.id}_sum"]), _float(row[f"{scale.id}_sem"])
        scales.append(ScaleScore(
            scale.id, scale.name, int(row[f"{scale.id}_n_items"]), int(row[f"{scale.id}_n_answered"]),
            bool(row[f"{scale.id}_prorated"]), total, _float(row[f"{scale.id}_mean"]), sem,
            total - Z95 * sem, total + Z95 * sem, _float(row[f"{scale.id}_t"]),
            _float(row[f"{scale.id}_percentile"]), _float(row.get(f"{scale.id}_theta")),
            _float(row.get(f"{scale.id}_theta_se")), _float(row.get(f"{scale.id}_irt_t"))))
    change = None
    if previous_key is not None:
        before = (previous_scores if previous_scores is not None else scores).loc[previous_key]
        table = reliable_change(form, before, row)
        change = [{"scale": scale_id, **{k: _plain(v) for k, v in values.items()}}
                  for scale_id, values in table.to_dict(orient="index").items()]
    values = {item.id: _answered_value(answers.get(item.id)) for item in form.items}
    items = []
    for item in form.items:
        value = values[item.id]
        items.append({"id": item.id, "text": item.text_for(referent or form.referent), "value": value,
                      "answer": (item.scale.label_of(value) if value is not None else "Prefer not to answer")
                      if item.id in answered_ids else "Not answered",
                      "reverse": item.reverse, "critical": item.is_critical_answer(value)})
    return RespondentReport(
        scales=scales, has_norms=bool(scores.attrs.get("norms")), norms_name=scores.attrs.get("norms"),
        sem_sample_size=len(scores), change=change,
        unanswered=[i.id for i in form.items if i.id not in answered_ids],
        declined=[i.id for i in form.items if i.id in answered_ids and values[i.id] is None],
        critical=critical_answers(form, values), items=items, adaptive=adaptive, irt_source=irt_source,
        sem_basis=dict(scores.attrs.get("sem_basis", {})))


def render_respondent_sections(report: Any, *, previous_label: str | None = None,
                               sample_words: str = "responses stored for this form version",
                               heading_level: int = 2) -> Markup:
    """The report's sections as an HTML fragment (critical items, scores, change, unanswered, answers).

    ``report`` is a :class:`RespondentReport` or an object with the same fields. The fragment uses
    no inline style or script, so a page with a strict Content-Security-Policy can embed it.
    """
    template = _environment.get_template("respondent_sections.html.j2")
    item_texts = {item["id"]: item["text"] for item in report.items}
    scale_names = {scale.id: scale.name for scale in report.scales}
    return Markup(template.render(report=report, previous_label=previous_label, sample_words=sample_words,
                                  h=heading_level, item_texts=item_texts, scale_names=scale_names,
                                  shows_irt=any(not math.isnan(s.theta) for s in report.scales
                                                if hasattr(s, "theta"))))


def render_respondent_report(report: RespondentReport, *, title: str, facts: list[tuple[str, str]],
                             previous_label: str | None = None, sample_words: str = "respondents in the data file"
                             ) -> str:
    """A self-contained HTML page (screen and print stylesheet inline) with the report's sections."""
    sections = render_respondent_sections(report, previous_label=previous_label, sample_words=sample_words)
    template = _environment.get_template("respondent.html.j2")
    return template.render(title=title, facts=facts, sections=sections,
                           generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"))


@dataclass(frozen=True)
class RespondentFile:
    """A response file and the respondent found in it."""

    path: Path
    responses: pd.DataFrame
    scores: pd.DataFrame
    key: Any


def _find_respondent(path: Path, form: Form, respondent_id: str, id_column: str,
                     norms: str | Path | None) -> RespondentFile:
    from rctscale.data import read_responses

    responses = read_responses(path, form, id_column=id_column)
    if id_column not in responses.columns:
        raise DataError(f"{path}: no column '{id_column}' to find respondent '{respondent_id}' by; "
                        "pass --id-column with the column that holds the respondent ids")
    ids = responses[id_column].astype(str).str.strip()
    matches = responses.index[ids == str(respondent_id).strip()]
    if len(matches) == 0:
        shown = ", ".join(ids.head(8))
        raise DataError(f"{path}: no respondent '{respondent_id}' in column '{id_column}' (the file has "
                        f"{len(ids)} respondents, e.g. {shown})")
    # Norms given on the command line win; else the form's own (score's default); False: none.
    scores = score(form, responses, norms=norms, id_column=id_column)
    return RespondentFile(path, responses, scores, matches[0])


def respondent_report_from_files(form: Form, data: str | Path, respondent_id: str, *, id_column: str = "id",
                                 previous: str | Path | None = None, norms: str | Path | None = None
                                 ) -> tuple[RespondentReport, RespondentFile, RespondentFile | None]:
    """Score the data file and build the report of one respondent; the change against ``previous``.

    Without norms, each scale's SEM uses its stated reliability and the SD of the sum scores of
    everyone in the data file (as :func:`rctscale.scoring.score` does), so a file with a single
    respondent gives no SEM and no interval.
    """
    current = _find_respondent(Path(data), form, respondent_id, id_column, norms)
    before = _find_respondent(Path(previous), form, respondent_id, id_column, norms) if previous else None
    row = current.responses.loc[current.key]
    answers = {item_id: row[item_id] for item_id in form.item_ids}
    report = build_respondent_report(form, current.scores, current.key, answers,
                                     previous_scores=before.scores if before else None,
                                     previous_key=before.key if before else None)
    return report, current, before
