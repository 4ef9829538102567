"""The adaptive (CAT) administration as the web form needs it: the plan, the seeds, the calibrations.

An adaptive administration keeps its CAT rules and item calibrations in its own row (see
:class:`rctscale.store.models.Administration`); this module turns them, with the administration's
form, into an :class:`rctscale.adaptive.AdaptivePlan`, cached because every question page asks it
for the next item. The respondent routes live in :mod:`rctscale.web.respondent`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from rctscale.adaptive import AdaptivePlan, AdaptiveRules, response_seed
from rctscale.bank import Form
from rctscale.bank.calibration import Calibration, calibrations_from_documents
from rctscale.errors import CalibrationError
from rctscale.store.models import Administration, Response

# Plans are small (a few CAT sessions over a few dozen items); a server holds a handful of
# adaptive administrations at a time.
_PLAN_CACHE_SIZE = 32
_plans: dict[tuple[str, str, str, str], AdaptivePlan] = {}
_plans_lock = threading.Lock()


def stored_calibrations(form: Form, administration: Administration) -> dict[str, Calibration] | None:
    """The item calibrations kept with an administration (checked against the form's banks), or None."""
    if not administration.calibration:
        return None
    try:
        documents = json.loads(administration.calibration)
    except ValueError as error:
        raise CalibrationError(f"administration {administration.id}: its stored calibration is not JSON: "
                               f"{error}") from None
    return calibrations_from_documents(documents, form.banks)


def adaptive_plan(form: Form, administration: Administration) -> AdaptivePlan | None:
    """The CAT plan of an adaptive administration (None for a paged one); raises CalibrationError."""
    if not administration.adaptive:
        return None
    key = (str(form.path), form.content_hash, administration.cat_rules or "", administration.calibration or "")
    with _plans_lock:
        cached = _plans.get(key)
    if cached is not None:
        return cached
    calibrations = stored_calibrations(form, administration) or {}
    try:
        rules = AdaptiveRules.from_dict(json.loads(administration.cat_rules or "{}"))
    except (ValueError, TypeError) as error:
        raise CalibrationError(f"administration {administration.id}: its stored CAT rules are unreadable: "
                               f"{error}") from None
    plan = AdaptivePlan(form, calibrations, rules)
    with _plans_lock:
        if len(_plans) >= _PLAN_CACHE_SIZE:
            _plans.pop(next(iter(_plans)))
        _plans[key] = plan
    return plan


def seeds_of(response: Response) -> Callable[[str], int]:
    """The randomesque seed of each section of this response, fixed for its whole life.

    Derived from the response's nonce (random, never changed), so two respondents draw
    differently while one respondent gets the same item again after a reload or a resume.
    """
    return lambda scale_id: response_seed(response.nonce, scale_id)
