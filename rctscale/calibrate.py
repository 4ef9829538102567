"""Calibrate item banks with the graded response model, and score answers with the parameters.

Calibration fits Samejima's graded response model (:func:`rctscale.psychometrics.graded_response_model`)
to each *scale* of a form whose items come from one bank — not to each bank — because the model
assumes one trait: the research form's shame bank holds the shame scale (31 items) and five guilt
markers that are a scale of their own; fitted together, the guilt items would pull the shame trait
towards guilt. A bank's calibrated scales go into one file beside the bank
(:mod:`rctscale.bank.calibration` describes and reads it).

Scoring with a calibration gives, for each scale of a form whose items a calibrated scale holds
(a short form's six connection items are scored on the connection bank's calibration), the EAP
trait estimate from whatever items were answered, its posterior SD, and the T metric
``50 + 10 theta`` PROMIS reports on (the calibration sample has mean 50 and SD 10).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rctscale.bank import Bank, Form, Scale
from rctscale.bank.calibration import (
    SOURCES,
    CalibratedItem,
    CalibratedScale,
    Calibration,
    calibration_path,
    load_calibrations,
)
from rctscale.errors import CalibrationError, RctscaleError
from rctscale.files import write_text_atomically
from rctscale.psychometrics.irt import T_SCORE_MEAN, T_SCORE_SD, eap_scores, graded_response_model
from rctscale.scoring import reverse_key

# Fewer respondents than this cannot estimate four thresholds per item with any meaning.
MIN_RESPONDENTS = 50
# PROMIS calibrated its banks on samples of several hundred and more; below this a note says so.
ADVISED_RESPONDENTS = 500

IrtSource = Calibration | Mapping[str, Calibration] | Iterable[Calibration] | str | Path


@dataclass(frozen=True)
class CalibrationRun:
    """What :func:`calibrate` produced: one calibration per bank, and notes for the user."""

    calibrations: dict[str, Calibration]
    notes: tuple[str, ...]


def calibration_units(form: Form) -> tuple[list[tuple[Bank, Scale]], list[str]]:
    """The scales of ``form`` that can be calibrated (all items from one bank), with their bank.

    Returns the units and notes on what is left out: scales mixing banks, and form items that are
    in no scale (the model needs to know which trait an item measures).
    """
    banks = {bank.id: bank for bank in form.banks}
    units: list[tuple[Bank, Scale]] = []
    notes: list[str] = []
    for scale in form.scales:
        owners = sorted({form.item(item_id).bank for item_id in scale.items})
        if len(owners) != 1:
            notes.append(f"scale '{scale.id}' mixes items of banks {', '.join(owners)}; a calibration belongs to "
                         "one bank, so it was left out")
            continue
        units.append((banks[owners[0]], scale))
    in_scales = {item_id for scale in form.scales for item_id in scale.items}
    loose = [item_id for item_id in form.item_ids if item_id not in in_scales]
    if loose:
        notes.append(f"item(s) {', '.join(loose[:8])} are in no scale of form '{form.id}' and were not calibrated")
    return units, notes


def calibrate(form: Form, responses: pd.DataFrame, *, data: str = "", data_hash: str | None = None,
              source: str = "data", banks: Iterable[str] | None = None) -> CalibrationRun:
    """Fit the graded response model to every one-bank scale of ``form``; one :class:`Calibration` per bank.

    Parameters
    ----------
    form : the form the responses answer; its scales are the units calibrated.
    responses : one row per respondent, item ids as columns (``rs.read_responses``).
    data, data_hash : the data file's name and hash, recorded in the calibration.
    source : ``"data"`` for answers of real people, ``"simulated"`` for simulated answers; the file
        says so, and a simulated calibration is flagged wherever it is used.
    banks : calibrate only the scales of these banks (default: every bank of the form).

    Example
    -------
    >>> import rctscale as rs
    >>> from rctscale.calibrate import calibrate
    >>> form = rs.load_form("intake")
    >>> run = calibrate(form, rs.simulate(form, n=300, seed=1), source="simulated")
    >>> sorted(run.calibrations), run.calibrations["shame"].scales[0].n
    (['connection', 'mutuality', 'shame'], 300)
    """
    from rctscale import __version__

    if source not in SOURCES:
        raise CalibrationError(f"source must be one of {', '.join(SOURCES)}, not '{source}'")
    absent = [item_id for item_id in form.item_ids if item_id not in responses.columns]
    if absent:
        raise CalibrationError(f"the responses lack columns for items of form '{form.id}': {', '.join(absent[:8])}")
    units, notes = calibration_units(form)
    if banks is not None:
        wanted = set(banks)
        unknown = wanted - {bank.id for bank in form.banks}
        if unknown:
            raise CalibrationError(f"form '{form.id}' has no items of bank(s) {', '.join(sorted(unknown))} "
                                   f"(its banks: {', '.join(b.id for b in form.banks)})")
        units = [(bank, scale) for bank, scale in units if bank.id in wanted]
    if not units:
        raise CalibrationError(f"form '{form.id}' has no scale whose items all come from one bank; nothing to "
                               "calibrate")
    keyed = reverse_key(responses[form.item_ids].astype(float), form)
    scales_by_bank: dict[str, list[CalibratedScale]] = {}
    for bank, scale in units:
        scales_by_bank.setdefault(bank.id, []).append(_calibrate_scale(form, keyed, scale, notes))
    created = dt.date.today().isoformat()
    calibrations = {
        bank.id: Calibration(
            bank=bank.id, bank_version=bank.version, bank_hash=bank.content_hash, source=source, data=data,
            data_hash=data_hash, form=form.id, form_hash=form.content_hash, created=created,
            software=f"rctscale {__version__}", scales=tuple(scales_by_bank[bank.id]))
        for bank in form.banks if bank.id in scales_by_bank
    }
    return CalibrationRun(calibrations, tuple(notes))


def _calibrate_scale(form: Form, keyed: pd.DataFrame, scale: Scale, notes: list[str]) -> CalibratedScale:
    block = keyed[list(scale.items)]
    n_answering = int(block.notna().any(axis=1).sum())
    if n_answering < MIN_RESPONDENTS:
        raise CalibrationError(f"scale '{scale.id}': only {n_answering} respondents answered any of its items; a "
                               f"calibration needs at least {MIN_RESPONDENTS} (and several hundred to be precise)")
    if n_answering < ADVISED_RESPONDENTS:
        notes.append(f"scale '{scale.id}': {n_answering} respondents; item parameters from fewer than "
                     f"{ADVISED_RESPONDENTS} are imprecise (see their standard errors)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = graded_response_model(block)
        except RctscaleError as error:
            raise CalibrationError(f"scale '{scale.id}': {error}") from None
    notes.extend(f"scale '{scale.id}': {warning.message}" for warning in caught)
    if not fit.converged:
        notes.append(f"scale '{scale.id}': the EM algorithm did not converge in {fit.n_iter} iterations; "
                     "treat the parameters with caution")
    items = []
    for item_id in scale.items:
        categories = tuple(int(round(v)) for v in fit.categories[item_id])
        n_thresholds = len(categories) - 1
        row, errors = fit.parameters.loc[item_id], fit.standard_errors.loc[item_id]
        if row["a"] <= 0:
            notes.append(f"scale '{scale.id}', item '{item_id}': discrimination {row['a']:.3f} is not positive: the "
                         "item runs against its scale (check its keying)")
        items.append(CalibratedItem(
            id=item_id, a=float(row["a"]), categories=categories,
            thresholds=tuple(float(row[f"b{k}"]) for k in range(1, n_thresholds + 1)),
            a_se=_finite_or_none(errors["a"]),
            thresholds_se=tuple(_finite_or_none(errors[f"b{k}"]) for k in range(1, n_thresholds + 1))))
        unused = [v for v in form.item(item_id).scale.values if v not in categories]
        if unused:
            notes.append(f"scale '{scale.id}', item '{item_id}': keyed answer(s) {', '.join(map(str, unused))} never "
                         "occur in the sample; such answers are scored as the nearest calibrated category")
    return CalibratedScale(id=scale.id, name=scale.name, n=int(fit.n_respondents), loglik=float(fit.loglik),
                           converged=bool(fit.converged), iterations=int(fit.n_iter), items=tuple(items))


def _finite_or_none(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if np.isfinite(number) else None


def write_calibrations(calibrations: Mapping[str, Calibration], directory: Path | str | None = None) -> list[Path]:
    """Write each calibration to ``<directory>/<bank>.yaml`` (default: beside the shipped banks), atomically."""
    written = []
    for bank_id, calibration in calibrations.items():
        written.append(write_text_atomically(calibration_path(bank_id, directory), calibration.to_yaml()))
    return written


# ---------------------------------------------------------------------- scoring


def resolve_calibrations(irt: IrtSource, form: Form) -> dict[str, Calibration]:
    """Calibrations of the form's banks from a calibration, several, a mapping, a file or a directory.

    Every calibration is checked against the bank as it reads now (a changed bank is an error).
    """
    banks = {bank.id: bank for bank in form.banks}
    if isinstance(irt, (str, Path)):
        return load_calibrations(irt, form.banks)
    if isinstance(irt, Calibration):
        given: list[Calibration] = [irt]
    elif isinstance(irt, Mapping):
        given = list(irt.values())
    else:
        given = list(irt)
    found = {}
    for calibration in given:
        if not isinstance(calibration, Calibration):
            raise CalibrationError(f"irt= takes calibrations, a calibration file or a directory, got "
                                   f"{type(calibration).__name__}")
        bank = banks.get(calibration.bank)
        if bank is not None:
            calibration.check_bank(bank)
            found[bank.id] = calibration
    return found


def calibrated_scale_for(form: Form, scale: Scale,
                         calibrations: Mapping[str, Calibration]) -> tuple[Calibration, CalibratedScale] | None:
    """The calibrated scale that holds every item of the form's ``scale`` (same id preferred), if any."""
    owners = {form.item(item_id).bank for item_id in scale.items}
    if len(owners) != 1:
        return None
    calibration = calibrations.get(owners.pop())
    if calibration is None:
        return None
    found = calibration.scale_covering(scale.items, prefer=scale.id)
    return (calibration, found) if found is not None else None


def to_calibrated_categories(values: np.ndarray, categories: tuple[int, ...]) -> np.ndarray:
    """Keyed answers mapped onto the categories the calibration sample used.

    An answer nobody gave in the calibration sample (say "Never" on an item everyone endorsed at
    least rarely) has no parameters of its own; it is scored as the nearest calibrated category
    below it — or the lowest, when it lies below them all — which is how mirt collapses empty
    categories. NaN (not answered) stays NaN.
    """
    lookup = np.asarray(categories, dtype=float)
    out = np.full(values.shape, np.nan)
    answered = ~np.isnan(values)
    position = np.clip(np.searchsorted(lookup, values[answered], side="right") - 1, 0, len(lookup) - 1)
    out[answered] = lookup[position]
    return out


def keyed_scale_answers(form: Form, answers: pd.DataFrame, calibrated: CalibratedScale,
                        item_ids: Iterable[str]) -> pd.DataFrame:
    """Raw answers of ``item_ids`` keyed and mapped onto the calibrated categories, ready for EAP."""
    item_ids = list(item_ids)
    keyed = reverse_key(answers[item_ids].astype(float), form)
    return pd.DataFrame({item_id: to_calibrated_categories(keyed[item_id].to_numpy(float),
                                                           calibrated.item(item_id).categories)
                         for item_id in item_ids}, index=answers.index)


def irt_scores(form: Form, responses: pd.DataFrame, calibrations: Mapping[str, Calibration]) -> pd.DataFrame:
    """EAP theta, its SE and the IRT T-score for every calibrated scale of ``form``.

    Columns ``<scale>_theta``, ``<scale>_theta_se`` and ``<scale>_irt_t`` for each scale of the form
    (facet subscales are not traits of their own and get none) that a calibrated scale covers; a
    respondent who answered none of a scale's items gets NaN there, not the prior. ``attrs["irt"]``
    maps each scored scale to the calibration used (bank, calibrated scale, source).
    """
    columns: dict[str, pd.Series] = {}
    used: dict[str, dict[str, str]] = {}
    for scale in form.scales:
        found = calibrated_scale_for(form, scale, calibrations)
        if found is None:
            continue
        calibration, calibrated = found
        answers = keyed_scale_answers(form, responses, calibrated, scale.items)
        estimates = eap_scores(calibrated.parameters(scale.items), answers,
                               categories=calibrated.categories(scale.items))
        none_answered = estimates["n_answered"] == 0
        columns[f"{scale.id}_theta"] = estimates["theta"].mask(none_answered)
        columns[f"{scale.id}_theta_se"] = estimates["se"].mask(none_answered)
        columns[f"{scale.id}_irt_t"] = (T_SCORE_MEAN + T_SCORE_SD * estimates["theta"]).mask(none_answered)
        used[scale.id] = {"bank": calibration.bank, "calibrated_scale": calibrated.id, "source": calibration.source}
    out = pd.DataFrame(columns, index=responses.index)
    out.attrs["irt"] = used
    return out

