"""A CFA for ordinal indicators in lavaan's delta parameterization (thresholds and scales).

Each ordinal item y_i is a cut latent response y*_i: y_i = c when tau_{i,c} < y*_i <= tau_{i,c+1}.
The factor model holds for y*, per group g (LISREL notation, intercepts nu fixed at 0)::

    Sigma*  = Lambda Psi Lambda' + Theta          mu* = nu + Lambda alpha
    diag(Theta) = 1 / delta^2 - diag(Lambda Psi Lambda')        (not free: the delta parameterization)

and with D = diag(delta) (the scales, lavaan's ``~*~`` parameters) the model-implied moments
the sample statistics are compared with are::

    thresholds     t_ik  = (tau_ik - mu*_i) delta_i
    correlations   rho_ij = delta_i delta_j Sigma*_ij          (so diag(D Sigma* D) = 1)

Defaults follow lavaan's cfa(ordered = ...): every threshold is free (``x | t1``...), delta is
fixed at 1, latent means at 0. With equal thresholds across groups (group_equal "thresholds")
the scales delta and the latent means are free in every group but the first (lavaan's
identification, Wu & Estabrook 2016), which lets the scalar step (thresholds + loadings) fit.

The free-parameter vector is [the factor part of :class:`~.model.Model` | thresholds |
scales]; equal labels share one index, as in model.py.

References: Muthen, B. & Asparouhov, T. (2002). Latent variable analysis with categorical
outcomes: multiple-group and growth modeling in Mplus (Mplus Web Note 4). Wu, H. & Estabrook,
R. (2016). Identification of confirmatory factor analysis models of different levels of
invariance for ordered categorical outcomes. Psychometrika 81, 1014-1045.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rctscale.errors import ModelError

from .model import GROUP_EQUAL_TYPES, Model, build_model, entry_derivatives, model_variables
from .samplestats_ordinal import lower_pairs
from .syntax import Modifier, Term

# lavaan's group.equal keywords that make sense for ordinal indicators in the delta parameterization;
# "intercepts" is accepted (they are fixed at 0 anyway) and, like "thresholds", frees the latent means
ORDINAL_GROUP_EQUAL = ("thresholds", "loadings", "intercepts", "means", "lv.variances", "lv.covariances",
                       "residual.covariances")


@dataclass(frozen=True)
class GroupParts:
    """The model matrices and implied moments of one group at a parameter vector."""

    mats: dict[str, np.ndarray]  # lambda, psi, theta (with the implied diagonal), nu, alpha
    delta: np.ndarray  # (p,) scales
    tau: np.ndarray  # (nth,) threshold parameters
    mu: np.ndarray  # (p,) latent-response means nu + Lambda alpha
    latent_cov: np.ndarray  # (p, p) Sigma* = Lambda Psi Lambda' + Theta (diag = 1 / delta^2; lavaan's VY)
    correlations: np.ndarray  # (p, p) D Sigma* D
    thresholds: np.ndarray  # (nth,) (tau - mu*) delta

    def moments(self) -> np.ndarray:
        """The implied vector in lavaan's WLS.est order: thresholds, then lower-triangle correlations."""
        rows, cols = lower_pairs(len(self.delta))
        return np.concatenate([self.thresholds, self.correlations[rows, cols]])


@dataclass(frozen=True)
class OrdinalModel:
    """Parameter table and bookkeeping of an ordinal CFA (factor part + thresholds + scales)."""

    base: Model
    table: pd.DataFrame
    n_free: int
    threshold_item: np.ndarray  # (nth,) item index of each threshold
    threshold_param: tuple[np.ndarray, ...]  # per group (nth,) 0-based free index, -1 when fixed
    threshold_fixed: tuple[np.ndarray, ...]  # per group fixed values (nan where free)
    delta_param: tuple[np.ndarray, ...]  # per group (p,)
    delta_fixed: tuple[np.ndarray, ...]

    @property
    def observed(self) -> tuple[str, ...]:
        return self.base.observed

    @property
    def latent(self) -> tuple[str, ...]:
        return self.base.latent

    @property
    def groups(self) -> tuple[str, ...]:
        return self.base.groups

    @property
    def n_groups(self) -> int:
        return self.base.n_groups

    @property
    def meanstructure(self) -> bool:
        return True

    @property
    def n_moments_per_group(self) -> int:
        p = len(self.observed)
        return len(self.threshold_item) + p * (p - 1) // 2

    @property
    def df(self) -> int:
        return self.n_groups * self.n_moments_per_group - self.n_free

    def parts(self, params: np.ndarray) -> list[GroupParts]:
        out = []
        for g, mats in enumerate(self.base.matrices(params)):
            delta = _fill(self.delta_fixed[g], self.delta_param[g], params)
            tau = _fill(self.threshold_fixed[g], self.threshold_param[g], params)
            lam, psi = mats["lambda"], mats["psi"]
            common = lam @ psi @ lam.T
            theta = mats["theta"].copy()
            np.fill_diagonal(theta, 1.0 / delta**2 - np.diag(common))
            mats = dict(mats, theta=theta)
            latent_cov = common + theta
            mu = mats["nu"] + lam @ mats["alpha"]
            item = self.threshold_item
            out.append(GroupParts(mats=mats, delta=delta, tau=tau, mu=mu, latent_cov=latent_cov,
                                  correlations=delta[:, None] * latent_cov * delta[None, :],
                                  thresholds=(tau - mu[item]) * delta[item]))
        return out

    def implied(self, params: np.ndarray) -> list[np.ndarray]:
        """Model-implied (thresholds, correlations) vector of every group."""
        return [part.moments() for part in self.parts(params)]

    def jacobian(self, params: np.ndarray, parts: list[GroupParts] | None = None) -> list[np.ndarray]:
        """d (implied vector) / d (free parameters) per group, shape (nth + p*, q); lavaan's Delta.

        Factor-part element e (Lambda, Psi, residual covariances, alpha) with dSigma_e, dmu_e from
        :func:`~.model.entry_derivatives`: d rho_ij = delta_i delta_j dSigma_e,ij and
        d t_ik = -delta_i dmu_e,i; threshold tau_ik: d t_ik = delta_i; scale delta_i:
        d rho_ij = delta_j Sigma*_ij and d t_ik = tau_ik - mu*_i. Equal labels add up.
        """
        if parts is None:
            parts = self.parts(params)
        p = len(self.observed)
        rows, cols = lower_pairs(p)
        item = self.threshold_item
        n_th = len(item)
        out = []
        for g, part in enumerate(parts):
            jac = np.zeros((n_th + len(rows), self.n_free))
            entries = self.base.free_entries[g]
            if len(entries.param):
                dsigma, dmu = entry_derivatives(part.mats, entries)
                block = np.concatenate([-dmu[:, item] * part.delta[item],
                                        dsigma[:, rows, cols] * (part.delta[rows] * part.delta[cols])], axis=1)
                np.add.at(jac.T, entries.param, block)
            free = np.flatnonzero(self.threshold_param[g] >= 0)
            np.add.at(jac, (free, self.threshold_param[g][free]), part.delta[item[free]])
            free = np.flatnonzero(self.delta_param[g] >= 0)
            if free.size:
                by_scale = np.zeros((p, n_th + len(rows)))
                by_scale[item, np.arange(n_th)] = part.tau - part.mu[item]
                pair = np.arange(len(rows))
                shared = part.latent_cov[rows, cols]
                by_scale[rows, n_th + pair] = part.delta[cols] * shared
                by_scale[cols, n_th + pair] = part.delta[rows] * shared
                np.add.at(jac.T, self.delta_param[g][free], by_scale[free])
            out.append(jac)
        return out


def _fill(fixed: np.ndarray, param: np.ndarray, params: np.ndarray) -> np.ndarray:
    values = fixed.copy()
    free = param >= 0
    values[free] = params[param[free]]
    return values


def build_ordinal_model(terms: Sequence[Term], data_columns: Sequence[str], n_thresholds: dict[str, int],
                        groups: Sequence[str] = ("all",), *, group_equal: Sequence[str] = (),
                        group_partial: Sequence[str] = (), std_lv: bool = False) -> OrdinalModel:
    """Build the parameter table of an ordinal CFA (lavaan's cfa(ordered = ...) defaults).

    ``n_thresholds`` gives K_i - 1 for every observed variable of the model. Raises
    :class:`ModelError` for statements that have no meaning for ordinal items in the delta
    parameterization (residual variances, intercepts), unknown group_equal keywords and models
    with negative degrees of freedom.
    """
    latent, observed = model_variables(terms)
    for term in terms:
        if term.op == "~~" and term.lhs == term.rhs and term.lhs in observed:
            raise ModelError(
                f"line {term.line}: '{term.lhs} ~~ {term.rhs}' sets the residual variance of an ordinal item; in "
                "the delta parameterization it is not a parameter (theta = 1/delta^2 - the common variance)"
            )
        if term.op == "~" and term.lhs in observed:
            raise ModelError(f"line {term.line}: '{term.lhs} ~ 1': intercepts of ordinal items are fixed at 0 "
                             "(their thresholds are free); remove the statement")
    unknown = [k for k in group_equal if k not in ORDINAL_GROUP_EQUAL]
    if unknown:
        raise ModelError(f"group_equal {unknown} cannot be used with ordinal items (delta parameterization); "
                         f"choose from {', '.join(ORDINAL_GROUP_EQUAL)}")
    missing = [name for name in observed if name not in n_thresholds]
    if missing:
        raise ModelError(f"no thresholds known for {', '.join(missing)}")
    n_groups = len(groups)
    equal = set(group_equal) if n_groups > 1 else set()
    free_means = bool(equal & {"thresholds", "intercepts"}) and "means" not in equal
    free_scales = "thresholds" in equal

    fixed_one, fixed_zero = Modifier("value", (1.0,)), Modifier("value", (0.0,))
    extra = []
    for name in observed:
        extra.append(Term(name, "~~", name, (fixed_one,), line=0))  # placeholder: theta_ii is implied
        extra.append(Term(name, "~", "", (fixed_zero,), line=0))
    user_means = {t.lhs for t in terms if t.op == "~"}
    for name in latent:
        if name not in user_means:
            entries = (0.0,) + ((None if free_means else 0.0),) * (n_groups - 1)
            extra.append(Term(name, "~", "", (Modifier("value", entries),), line=0))
    base_equal = [k for k in group_equal if k in GROUP_EQUAL_TYPES and k != "intercepts"]
    base = build_model(list(terms) + extra, data_columns, groups, meanstructure=True, group_equal=base_equal,
                       group_partial=group_partial, std_lv=std_lv)
    table = base.table.copy()
    table.loc[table["line"] == 0, "user"] = False

    partial = {s.replace(" ", "") for s in group_partial}
    rows: list[dict] = []
    labels: dict[str, int] = {}
    count = base.n_free
    item_index = {name: i for i, name in enumerate(observed)}
    threshold_item = np.concatenate([np.full(n_thresholds[name], i) for i, name in enumerate(observed)]).astype(int)
    th_param, th_fixed, sc_param, sc_fixed = [], [], [], []
    for g in range(n_groups):
        params = np.full(len(threshold_item), -1)
        position = 0
        for name in observed:
            for k in range(1, n_thresholds[name] + 1):
                key = f"{name}|t{k}"
                label = f".eq.{key}" if "thresholds" in equal and key not in partial else ""
                if label and label in labels:
                    index = labels[label]
                else:
                    count += 1
                    index = count
                    if label:
                        labels[label] = index
                params[position] = index - 1
                rows.append(dict(lhs=name, op="|", rhs=f"t{k}", group=g, label=label, user=False, line=0,
                                 free_flag=True, free=index, ustart=np.nan, matrix="tau", row=position,
                                 col=item_index[name]))
                position += 1
        th_param.append(params)
        th_fixed.append(np.full(len(threshold_item), np.nan))
        scales = np.full(len(observed), -1)
        values = np.ones(len(observed))
        for i, name in enumerate(observed):
            free = g > 0 and free_scales
            if free:
                count += 1
                scales[i] = count - 1
                values[i] = np.nan
            rows.append(dict(lhs=name, op="~*~", rhs=name, group=g, label="", user=False, line=0, free_flag=free,
                             free=count if free else 0, ustart=np.nan if free else 1.0, matrix="delta", row=i, col=i))
        sc_param.append(scales)
        sc_fixed.append(values)
    table = pd.concat([table, pd.DataFrame(rows)], ignore_index=True)
    model = OrdinalModel(base=base, table=table, n_free=count, threshold_item=threshold_item,
                         threshold_param=tuple(th_param), threshold_fixed=tuple(th_fixed),
                         delta_param=tuple(sc_param), delta_fixed=tuple(sc_fixed))
    if model.df < 0:
        raise ModelError(
            f"the model is not identified: it has {model.n_free} free parameters but only "
            f"{model.n_groups * model.n_moments_per_group} sample statistics (thresholds and polychoric "
            f"correlations; df = {model.df}); fix or constrain parameters, or add indicators"
        )
    return model
