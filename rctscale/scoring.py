"""Scale scores: reverse keying, the missing-data rule, sums and means, SEM, norms, change.

Formulas
--------
* Reverse keying: ``x' = min + max - x`` on the item's response scale.
* Prorating: with ``k`` items and ``a`` answered, a score exists when ``a / k >= min_answered``
  (80 % by default); the mean is that of the answered items and the sum is ``k * mean``.
* SEM: ``SD * sqrt(1 - r)`` with the scale's stated reliability ``r`` and the SD of the norm
  sample (or, without norms, of the scored sample).
* T-score: ``50 + 10 (x - M) / SD`` with the norm sample's mean ``M`` and ``SD``; percentile:
  the norm sample's mid-rank percentile of ``x``, interpolated between observed scores.
* Reliable change (Jacobson & Truax, 1991): ``RCI = (x2 - x1) / S_diff`` with
  ``S_diff = sqrt(2 SEM^2)``; ``|RCI| > 1.96`` is a reliable change at the 5 % level.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from rctscale.bank import Form, Scale, default_items_dir
from rctscale.errors import ScoringError

if TYPE_CHECKING:
    from rctscale.calibrate import IrtSource

SCORE_STATS = ("n_items", "n_answered", "prorated", "sum", "mean", "sem", "t", "percentile")
# Added per calibrated scale when score() is given item calibrations (irt=...).
IRT_STATS = ("theta", "theta_se", "irt_t")
RELIABLE_CHANGE_Z = 1.96


def reverse_key(values: pd.DataFrame, form: Form) -> pd.DataFrame:
    """Reverse-score the reverse-keyed items of ``form`` (``min + max - x``)."""
    keyed = values.copy()
    for item in form.items:
        if item.reverse and item.id in keyed.columns:
            keyed[item.id] = item.scale.minimum + item.scale.maximum - keyed[item.id]
    return keyed


def prorated_scores(keyed: pd.DataFrame, scale: Scale) -> pd.DataFrame:
    """Number answered, prorated flag, sum and mean of one scale for every respondent."""
    block = keyed[list(scale.items)].astype(float)
    n_items = len(scale.items)
    n_answered = block.notna().sum(axis=1)
    needed = math.ceil(scale.min_answered * n_items - 1e-9)
    enough = n_answered >= needed
    mean = block.mean(axis=1, skipna=True).where(enough)
    return pd.DataFrame({
        "n_items": n_items,
        "n_answered": n_answered.astype(int),
        "prorated": enough & (n_answered < n_items),
        "sum": mean * n_items,
        "mean": mean,
    }, index=keyed.index)


def standard_error_of_measurement(sd: float, reliability: float) -> float:
    """SEM = SD * sqrt(1 - reliability)."""
    if not 0 <= reliability < 1:
        raise ScoringError(f"reliability must lie in [0, 1), got {reliability}")
    return float(sd) * math.sqrt(1.0 - float(reliability))


def reliable_change_index(before: float, after: float, sem: float) -> float:
    """Jacobson & Truax (1991): ``(after - before) / sqrt(2 SEM^2)``.

    >>> round(reliable_change_index(20, 26, 2.0), 3)
    2.121
    """
    if not sem > 0:
        raise ScoringError(f"the reliable change index needs a positive SEM, got {sem}")
    return (after - before) / math.sqrt(2.0 * sem**2)


@dataclass(frozen=True)
class NormScale:
    """A norm sample's distribution of one scale's (prorated) sum score."""

    n: int
    mean: float
    sd: float
    scores: tuple[float, ...]       # distinct observed scores, ascending
    percentiles: tuple[float, ...]  # mid-rank percentile of each

    def t_score(self, value: float) -> float:
        return 50.0 + 10.0 * (value - self.mean) / self.sd

    def percentile(self, value: float) -> float:
        return float(np.interp(value, self.scores, self.percentiles))


@dataclass(frozen=True)
class Norms:
    """A norm table: per scale, the distribution of sum scores in a reference sample."""

    name: str
    form: str
    form_hash: str
    scales: dict[str, NormScale]
    meta: dict[str, Any]

    def to_yaml(self) -> str:
        document = {**self.meta, "form": self.form, "form_hash": self.form_hash, "scales": {
            scale_id: {"n": s.n, "mean": round(s.mean, 6), "sd": round(s.sd, 6),
                       "table": [[round(x, 6), round(p, 4)] for x, p in zip(s.scores, s.percentiles, strict=True)]}
            for scale_id, s in self.scales.items()}}
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def build_norms(form: Form, responses: pd.DataFrame, *, name: str, data_hash: str | None = None) -> Norms:
    """A norm table from a sample: mean, SD and the mid-rank percentile of every sum score."""
    scores = score(form, responses, norms=False)
    scales: dict[str, NormScale] = {}
    for scale in form.scored_scales():
        values = scores[f"{scale.id}_sum"].dropna().to_numpy()
        if len(values) < 2 or np.std(values) == 0:
            raise ScoringError(f"scale '{scale.id}': needs at least two different scores to build norms, "
                               f"found {len(values)} score(s)")
        distinct, counts = np.unique(np.round(values, 9), return_counts=True)
        below = np.cumsum(counts) - counts
        percentiles = 100.0 * (below + 0.5 * counts) / len(values)
        scales[scale.id] = NormScale(len(values), float(values.mean()), float(values.std(ddof=1)),
                                     tuple(float(x) for x in distinct), tuple(float(p) for p in percentiles))
    meta = {"name": name, "n": int(len(responses)), "created": dt.date.today().isoformat(),
            "data_hash": data_hash}
    return Norms(name, form.id, form.content_hash, scales, meta)


def load_norms(name_or_path: str | Path, form: Form) -> Norms:
    """Load a norm table (a name under ``items/norms/`` or a path) and check it fits ``form``."""
    path = Path(name_or_path)
    if not path.suffix:
        path = default_items_dir() / "norms" / f"{name_or_path}.yaml"
    if not path.exists():
        raise ScoringError(f"{path}: norm table not found; build one with `rctscale norms build`")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or "scales" not in document:
        raise ScoringError(f"{path}: not a norm table (no 'scales:'); rebuild it with `rctscale norms build`")
    if document.get("form") != form.id:
        raise ScoringError(f"{path}: norms are for form '{document.get('form')}', not '{form.id}'")
    if document.get("form_hash") != form.content_hash:
        raise ScoringError(f"{path}: norms were built for another version of form '{form.id}' "
                           f"({document.get('form_hash')}); rebuild them for {form.content_hash}")
    scales = {}
    for scale_id, entry in document["scales"].items():
        table = entry["table"]
        scales[scale_id] = NormScale(int(entry["n"]), float(entry["mean"]), float(entry["sd"]),
                                     tuple(float(r[0]) for r in table), tuple(float(r[1]) for r in table))
    meta = {k: v for k, v in document.items() if k not in ("scales", "form", "form_hash")}
    return Norms(str(document.get("name", path.stem)), form.id, form.content_hash, scales, meta)


def score(form: Form, responses: pd.DataFrame, *, norms: Norms | str | Path | bool | None = None,
          id_column: str | None = "id", irt: IrtSource | None = None) -> pd.DataFrame:
    """Score every scale (and facet scale) of ``form`` for every respondent.

    Parameters
    ----------
    form : the form answered.
    responses : one row per respondent with the item ids as columns (``rs.read_responses``).
    norms : a :class:`Norms`, a norm table name or path; ``None`` uses the form's own norms
        when it names them; ``False`` uses none.
    irt : item calibrations (:class:`rctscale.bank.Calibration`, several, or a calibration file or
        directory such as ``items/calibration``) to add IRT scores: for each scale of the form a
        calibrated scale covers, ``s_theta`` (EAP from whatever items were answered), ``s_theta_se``
        (its posterior SD) and ``s_irt_t`` (50 + 10 theta); see :mod:`rctscale.calibrate`.

    Returns
    -------
    DataFrame, one row per respondent (the id column first when present) and, for each
    scale ``s``: ``s_n_items``, ``s_n_answered``, ``s_prorated``, ``s_sum``, ``s_mean``,
    ``s_sem`` (in sum units; empty without a stated reliability), ``s_t`` and
    ``s_percentile`` (empty without norms), then the IRT columns when ``irt`` is given.
    ``attrs`` record the form hash, the norms used, where each SEM's SD came from and, with
    ``irt``, which calibration scored each scale.

    Example
    -------
    >>> import rctscale as rs
    >>> form = rs.load_form("intake")
    >>> scores = rs.score(form, rs.simulate(form, n=5, seed=1))
    >>> int(scores["connection_n_items"].iloc[0])
    6
    """
    absent = [item_id for item_id in form.item_ids if item_id not in responses.columns]
    if absent:
        raise ScoringError(f"the responses lack columns for items of form '{form.id}': {', '.join(absent[:8])}")
    if norms is None and form.norms:
        norms = form.norms
    norm_table = load_norms(norms, form) if isinstance(norms, (str, Path)) else (norms or None)
    keyed = reverse_key(responses[form.item_ids].astype(float), form)
    theta = None
    if irt is not None:
        # Imported here: IRT scoring needs the psychometrics, plain scoring does not.
        from rctscale.calibrate import irt_scores, resolve_calibrations

        calibrations = resolve_calibrations(irt, form)
        theta = irt_scores(form, responses, calibrations)
        if not theta.attrs["irt"]:
            raise ScoringError(f"the calibration(s) given cover no scale of form '{form.id}'; calibrate its banks "
                               "with `rctscale calibrate`")
    columns: dict[str, pd.Series] = {}
    if id_column and id_column in responses.columns:
        columns[id_column] = responses[id_column]
    sem_basis: dict[str, str] = {}
    for scale in form.scored_scales():
        block = prorated_scores(keyed, scale)
        norm = norm_table.scales.get(scale.id) if norm_table else None
        sem = np.nan
        if scale.reliability is not None:
            sample = block["sum"].dropna()
            if norm is not None:
                sem, sem_basis[scale.id] = standard_error_of_measurement(norm.sd, scale.reliability), "norms"
            elif len(sample) >= 2 and sample.std() > 0:
                sem, sem_basis[scale.id] = standard_error_of_measurement(sample.std(), scale.reliability), "sample"
        block["sem"] = np.where(block["sum"].notna(), sem, np.nan)
        if norm is not None:
            block["t"] = block["sum"].map(lambda x, n=norm: n.t_score(x) if x == x else np.nan)
            block["percentile"] = block["sum"].map(lambda x, n=norm: n.percentile(x) if x == x else np.nan)
        else:
            block["t"] = np.nan
            block["percentile"] = np.nan
        for stat in SCORE_STATS:
            columns[f"{scale.id}_{stat}"] = block[stat]
        if theta is not None and scale.id in theta.attrs["irt"]:
            for stat in IRT_STATS:
                columns[f"{scale.id}_{stat}"] = theta[f"{scale.id}_{stat}"]
    out = pd.DataFrame(columns, index=responses.index)
    out.attrs.update(form=form.id, form_hash=form.content_hash,
                     norms=norm_table.name if norm_table else None, sem_basis=sem_basis)
    if theta is not None:
        out.attrs["irt"] = theta.attrs["irt"]
    return out


def reliable_change(form: Form, before: pd.Series, after: pd.Series,
                    norms: Norms | str | Path | None = None) -> pd.DataFrame:
    """The reliable change index per scale between two administrations of one respondent.

    ``before`` and ``after`` are rows of :func:`score` output. The SEM is taken from ``norms``
    when given, else from the rows' own ``_sem`` (which needs a stated reliability).
    """
    norm_table = load_norms(norms, form) if isinstance(norms, (str, Path)) else norms
    rows = []
    for scale in form.scored_scales():
        x1, x2 = before.get(f"{scale.id}_sum"), after.get(f"{scale.id}_sum")
        sem = after.get(f"{scale.id}_sem")
        if norm_table is not None and scale.id in norm_table.scales and scale.reliability is not None:
            sem = standard_error_of_measurement(norm_table.scales[scale.id].sd, scale.reliability)
        if x1 is None or x2 is None or any(pd.isna(v) for v in (x1, x2, sem)):
            rows.append({"scale": scale.id, "before": x1, "after": x2, "change": np.nan, "s_diff": np.nan,
                         "rci": np.nan, "reliable": False, "direction": "not computable"})
            continue
        rci = reliable_change_index(float(x1), float(x2), float(sem))
        reliable = abs(rci) > RELIABLE_CHANGE_Z
        direction = ("increase" if rci > 0 else "decrease") if reliable else "no reliable change"
        rows.append({"scale": scale.id, "before": float(x1), "after": float(x2), "change": float(x2) - float(x1),
                     "s_diff": math.sqrt(2.0) * float(sem), "rci": rci, "reliable": reliable,
                     "direction": direction})
    return pd.DataFrame(rows).set_index("scale")
