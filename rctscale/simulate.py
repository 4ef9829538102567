"""Simulate ordinal responses from a stated factor model, seeded.

The model is the usual one for Likert items: a latent response ``y* = Lambda eta + e`` with
``eta ~ N(alpha, Phi)`` and ``var(e) = 1 - communality`` (standardized loadings), cut into
categories at item thresholds. Several groups may differ in factor means, loadings and
thresholds, which is what an invariance study needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rctscale.bank import Form
from rctscale.errors import RctscaleError

# Cut points on the standard-normal latent response for five categories: a little right
# skew, as frequency answers about relationships usually are.
DEFAULT_THRESHOLDS_5 = (-1.5, -0.5, 0.35, 1.25)
DEFAULT_LOADING = 0.7


@dataclass(frozen=True)
class GroupSpec:
    """How one group departs from the population model."""

    n: int | None = None
    factor_means: Mapping[str, float] = field(default_factory=dict)
    loadings: Mapping[str, float] = field(default_factory=dict)          # item -> standardized loading
    threshold_shift: Mapping[str, float] = field(default_factory=dict)   # item -> shift of all its cuts


def simulate_factor_model(
    loadings: pd.DataFrame,
    factor_correlations: pd.DataFrame | None = None,
    thresholds: Mapping[str, Sequence[float]] | Sequence[float] = DEFAULT_THRESHOLDS_5,
    *,
    n: int,
    seed: int | None = 0,
    factor_means: Mapping[str, float] | None = None,
    first_category: int = 1,
) -> pd.DataFrame:
    """Ordinal responses from standardized loadings (items x factors), factor correlations
    and thresholds (one list for every item, or a mapping item -> list).

    Example
    -------
    >>> L = pd.DataFrame({"f": [0.7, 0.7, 0.7]}, index=["a", "b", "c"])
    >>> simulate_factor_model(L, n=3, seed=1).shape
    (3, 3)
    """
    if n < 1:
        raise RctscaleError(f"n must be at least 1, got {n}")
    factors = list(loadings.columns)
    phi = (factor_correlations.loc[factors, factors].to_numpy(float) if factor_correlations is not None
           else np.eye(len(factors)))
    if np.any(np.linalg.eigvalsh(phi) <= 0):
        raise RctscaleError("the factor correlation matrix is not positive definite; check the stated correlations")
    lam = loadings.to_numpy(float)
    communality = np.einsum("ij,jk,ik->i", lam, phi, lam)
    if np.any(communality >= 1):
        bad = loadings.index[int(np.argmax(communality))]
        raise RctscaleError(f"item '{bad}': its loadings explain all its variance (communality >= 1); "
                            "standardized loadings must be smaller")
    rng = np.random.default_rng(seed)
    means = np.array([(factor_means or {}).get(f, 0.0) for f in factors])
    eta = rng.multivariate_normal(means, phi, size=n, method="cholesky")
    noise = rng.standard_normal((n, len(lam))) * np.sqrt(1.0 - communality)
    latent = eta @ lam.T + noise
    out = {}
    for j, item in enumerate(loadings.index):
        cuts = thresholds[item] if isinstance(thresholds, Mapping) else thresholds
        out[item] = first_category + np.searchsorted(np.asarray(cuts, float), latent[:, j])
    return pd.DataFrame(out)


def form_model(form: Form) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[float]]]:
    """The population model a form states for simulation (its ``simulation:`` block).

    One factor per scale; each item loads on the first scale that lists it, negatively when
    reverse-keyed, so simulated answers carry the keying a real sample would show.
    """
    settings = form.simulation or {}
    loading = float(settings.get("loading", DEFAULT_LOADING))
    factors = [scale.id for scale in form.scales]
    home = {}
    for scale in form.scales:
        for item_id in scale.items:
            home.setdefault(item_id, scale.id)
    lam = pd.DataFrame(0.0, index=form.item_ids, columns=factors)
    for item in form.items:
        if item.id in home:
            lam.loc[item.id, home[item.id]] = -loading if item.reverse else loading
    if lam.empty or not factors:
        raise RctscaleError(f"form '{form.id}' has no scales to simulate from")
    unscored = [i for i in form.item_ids if i not in home]
    if unscored:
        lam = lam.drop(index=unscored)
    phi = pd.DataFrame(np.eye(len(factors)), index=factors, columns=factors)
    for pair, value in (settings.get("factor_correlations") or {}).items():
        left, _, right = (part.strip() for part in str(pair).partition("~~"))
        if left in factors and right in factors:
            phi.loc[left, right] = phi.loc[right, left] = float(value)
    thresholds = {}
    for item in form.items:
        k = len(item.scale.values)
        thresholds[item.id] = list(DEFAULT_THRESHOLDS_5) if k == 5 else list(np.linspace(-1.5, 1.5, k - 1))
    return lam, phi, thresholds


def simulate(
    form: Form,
    n: int = 500,
    seed: int | None = 0,
    *,
    groups: Mapping[str, GroupSpec | Mapping] | None = None,
    group_column: str = "group",
    missing_rate: float = 0.0,
) -> pd.DataFrame:
    """Simulate a validation sample for ``form``: a wide DataFrame, item ids as columns.

    Parameters
    ----------
    form : the form; its ``simulation:`` block gives loadings and factor correlations.
    n : respondents in all (split evenly across groups unless a group states its ``n``).
    seed : the same seed gives the same data.
    groups : name -> :class:`GroupSpec` (or a dict of its fields) for multi-group data.
    missing_rate : share of answers left out at random ("prefer not to answer").

    Example
    -------
    >>> import rctscale as rs
    >>> df = rs.simulate(rs.load_form("intake"), n=200, seed=1)
    >>> df.shape[0]
    200
    """
    lam, phi, thresholds = form_model(form)
    specs = {name: spec if isinstance(spec, GroupSpec) else GroupSpec(**spec)
             for name, spec in (groups or {"": GroupSpec()}).items()}
    stated = sum(spec.n or 0 for spec in specs.values())
    unstated = [name for name, spec in specs.items() if spec.n is None]
    rest = max(n - stated, 0)
    sizes = {name: spec.n for name, spec in specs.items() if spec.n is not None}
    for index, name in enumerate(unstated):
        sizes[name] = rest // len(unstated) + (1 if index < rest % len(unstated) else 0)
    rng = np.random.default_rng(seed)
    parts = []
    for name, spec in specs.items():
        group_lam = lam.copy()
        for item_id, value in spec.loadings.items():
            row = group_lam.loc[item_id]
            group_lam.loc[item_id, row.abs().idxmax()] = value
        group_thresholds = {item: [c + spec.threshold_shift.get(item, 0.0) for c in cuts]
                            for item, cuts in thresholds.items()}
        part = simulate_factor_model(group_lam, phi, group_thresholds, n=sizes[name],
                                     seed=int(rng.integers(2**32)), factor_means=spec.factor_means)
        if groups:
            part.insert(0, group_column, name)
        parts.append(part)
    data = pd.concat(parts, ignore_index=True)
    if groups:
        data = data.iloc[rng.permutation(len(data))].reset_index(drop=True)
    data = data.astype({item: float for item in lam.index})
    if missing_rate > 0:
        mask = rng.random((len(data), len(lam.index))) < missing_rate
        data[list(lam.index)] = data[list(lam.index)].mask(mask)
    ids = pd.Series([f"sim{i + 1:05d}" for i in range(len(data))], name="id")
    ordered = ([group_column] if groups else []) + [i for i in form.item_ids if i in data.columns]
    data = pd.concat([ids, data[ordered]], axis=1)
    data.attrs.update(form=form.id, form_hash=form.content_hash, seed=seed)
    return data
