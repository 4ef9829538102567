"""Modification indices (lavaan's modindices()): a score test for each parameter not in the model.

For the candidate parameters (cross-loadings, residual covariances, missing latent
covariances) at the fitted estimates, with I the unit expected information of the model
extended by the candidates and g the gradient of lavaan's fmin with respect to them::

    V   = I_cc - I_cm I_mm^-1 I_mc          (c: candidates, m: the model's free parameters)
    mi  = N g^2 / diag(V)
    epc = -g / diag(V)

sepc_all standardizes epc like std.all. Unlike lavaan (which ignores equality constraints
here), the model block uses the constrained (reduced) parameter vector, so with group.equal
the indices are the score tests of the constrained model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .estimator_ml import unit_information
from .model import LAMBDA, MATRIX_NAMES, PSI, THETA, Entries, entry_derivatives
from .standardized import standardize

# lavaan sets V to NA below this (a candidate that is a combination of model parameters)
DEGENERATE_VARIANCE = np.finfo(float).eps ** (1 / 3)


def _candidates(fitted, group: int) -> tuple[Entries, list[tuple[str, str, str]]]:
    model = fitted.model
    table = model.table[model.table["group"] == group]
    present = {(r.lhs, r.op, r.rhs) for r in table.itertuples()}
    present |= {(r.rhs, r.op, r.lhs) for r in table.itertuples() if r.op == "~~"}
    kinds, rows, cols, names = [], [], [], []
    for j, latent in enumerate(model.latent):
        for i, item in enumerate(model.observed):
            if (latent, "=~", item) not in present:
                kinds.append(LAMBDA), rows.append(i), cols.append(j), names.append((latent, "=~", item))
    for a in range(len(model.observed)):
        for b in range(a + 1, len(model.observed)):
            lhs, rhs = model.observed[a], model.observed[b]
            if (lhs, "~~", rhs) not in present:
                kinds.append(THETA), rows.append(a), cols.append(b), names.append((lhs, "~~", rhs))
    for a in range(len(model.latent)):
        for b in range(a + 1, len(model.latent)):
            lhs, rhs = model.latent[a], model.latent[b]
            if (lhs, "~~", rhs) not in present:
                kinds.append(PSI), rows.append(a), cols.append(b), names.append((lhs, "~~", rhs))
    entries = Entries(matrix=np.array(kinds, dtype=int), row=np.array(rows, dtype=int),
                      col=np.array(cols, dtype=int), param=np.full(len(kinds), -1))
    return entries, names


def modification_indices(fitted) -> pd.DataFrame:
    """Score tests for the parameters a fitted CFA leaves out (complete-data ML)."""
    model, stats, params = fitted.model, fitted.stats, fitted.optim.params
    if getattr(fitted.estimator, "name", "") != "ML" or any(g.has_missing for g in stats.groups):
        raise NotImplementedError("modification indices are available for complete-data ML fits")
    mats = model.matrices(params)
    jacobians = model.jacobian(params, mats)
    per_group = [_candidates(fitted, g) for g in range(model.n_groups)]
    n_candidates = sum(len(names) for _, names in per_group)
    q = model.n_free
    total = q + n_candidates
    information = np.zeros((total, total))
    gradient = np.zeros(total)
    offset = q
    for g, (weight, group, group_mats, (dsigma, dmu)) in enumerate(
            zip(stats.weights, stats.groups, mats, jacobians, strict=True)):
        entries, names = per_group[g]
        extra_sigma, extra_mu = entry_derivatives(group_mats, entries)
        # the group's columns: the model's q parameters, then its own candidates (zero elsewhere)
        columns = np.r_[np.arange(q), offset + np.arange(len(names))]
        all_sigma = np.concatenate([dsigma, extra_sigma])
        all_mu = np.concatenate([dmu, extra_mu])
        sigma, mu = model.implied_moments(group_mats)
        sigma_inv = np.linalg.inv(sigma)
        target = group.cov
        diff = group.mean - mu if model.meanstructure else np.zeros_like(mu)
        target = target + np.outer(diff, diff)
        core = sigma_inv - sigma_inv @ target @ sigma_inv
        grad = 0.5 * np.tensordot(all_sigma, core, axes=([1, 2], [0, 1])) - all_mu @ (sigma_inv @ diff)
        info = unit_information(sigma_inv, all_sigma, all_mu if model.meanstructure else None)
        gradient[columns] += weight * grad
        information[np.ix_(columns, columns)] += weight * info
        offset += len(names)
    model_block = information[:q, :q]
    cross = information[q:, :q]
    v = np.diag(information[q:, q:]) - np.einsum("ij,ji->i", cross, np.linalg.solve(model_block, cross.T))
    v = np.where(v < DEGENERATE_VARIANCE, np.nan, v)
    score = gradient[q:]
    mi = stats.ntotal * score**2 / v
    epc = -score / v
    rows, offset = [], 0
    for g, (entries, names) in enumerate(per_group):
        count = len(names)
        sigma = model.implied_moments(mats[g])[0]
        epc_g = epc[offset:offset + count]
        sepc = np.sign(epc_g) * standardize(entries.matrix, entries.row, entries.col, np.abs(epc_g), mats[g], sigma)
        for k, (lhs, op, rhs) in enumerate(names):
            rows.append({"lhs": lhs, "op": op, "rhs": rhs, "group": model.groups[g],
                         "mi": mi[offset + k], "epc": epc_g[k], "sepc_all": sepc[k],
                         "matrix": MATRIX_NAMES[entries.matrix[k]]})
        offset += count
    out = pd.DataFrame(rows).drop(columns="matrix")
    return out.drop(columns="group") if model.n_groups == 1 else out
