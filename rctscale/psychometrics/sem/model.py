"""The parameter table and the model matrices built from it (lavaan's partable + lavmodel).

A CFA in LISREL notation, per group g::

    Sigma_g = Lambda Psi Lambda' + Theta        (p x p)
    mu_g    = nu + Lambda alpha                  (p, only with a mean structure)

The parameter table has one row per model parameter per group (lhs op rhs group), with
``free`` = 0 for fixed parameters and 1..q for free ones; equal labels share one free index,
so the optimiser works on the reduced vector of q distinct free parameters and equality
constraints need no extra machinery. Defaults follow lavaan's ``cfa()``: marker loading 1,
free residual and latent (co)variances, free intercepts and zero latent means when there is a
mean structure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rctscale.errors import ModelError

from .syntax import Term

# the matrix each parameter lives in; codes index the arrays of ModelEntries
LAMBDA, PSI, THETA, NU, ALPHA = 0, 1, 2, 3, 4
MATRIX_NAMES = ("lambda", "psi", "theta", "nu", "alpha")

# lavaan's group.equal keywords
GROUP_EQUAL_TYPES = (
    "loadings", "intercepts", "means", "residuals", "residual.covariances", "lv.variances",
    "lv.covariances",
)


@dataclass(frozen=True)
class Entries:
    """Positions of a set of matrix elements of one group (vectorised bookkeeping)."""

    matrix: np.ndarray  # int codes LAMBDA..ALPHA
    row: np.ndarray
    col: np.ndarray
    param: np.ndarray  # 0-based free-parameter index (or -1 for fixed elements)


@dataclass(frozen=True)
class Model:
    """A CFA model: parameter table, variable names and per-group matrix bookkeeping."""

    table: pd.DataFrame
    observed: tuple[str, ...]
    latent: tuple[str, ...]
    groups: tuple[str, ...]
    meanstructure: bool
    n_free: int
    free_entries: tuple[Entries, ...]  # per group: the free elements
    fixed_matrices: tuple[dict[str, np.ndarray], ...]  # per group: matrices with fixed values

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_moments_per_group(self) -> int:
        p = len(self.observed)
        return p * (p + 1) // 2 + (p if self.meanstructure else 0)

    @property
    def df(self) -> int:
        return self.n_groups * self.n_moments_per_group - self.n_free

    def matrices(self, params: np.ndarray) -> list[dict[str, np.ndarray]]:
        """The model matrices of every group at the free-parameter vector ``params``."""
        out = []
        for fixed, entries in zip(self.fixed_matrices, self.free_entries, strict=True):
            mats = {name: value.copy() for name, value in fixed.items()}
            values = params[entries.param]
            for code in (LAMBDA, PSI, THETA):
                sel = entries.matrix == code
                target = mats[MATRIX_NAMES[code]]
                target[entries.row[sel], entries.col[sel]] = values[sel]
                if code != LAMBDA:  # symmetric matrices
                    target[entries.col[sel], entries.row[sel]] = values[sel]
            for code in (NU, ALPHA):
                sel = entries.matrix == code
                mats[MATRIX_NAMES[code]][entries.row[sel]] = values[sel]
            out.append(mats)
        return out

    @staticmethod
    def implied_moments(mats: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Model-implied covariance matrix and mean vector of one group."""
        lam, psi = mats["lambda"], mats["psi"]
        sigma = lam @ psi @ lam.T + mats["theta"]
        mu = mats["nu"] + lam @ mats["alpha"]
        return sigma, mu

    def implied(self, params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self.implied_moments(m) for m in self.matrices(params)]

    def jacobian(self, params: np.ndarray, mats: list[dict[str, np.ndarray]] | None = None
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Derivatives of (Sigma_g, mu_g) with respect to the q free parameters.

        Returns per group ``(dsigma, dmu)`` of shapes (q, p, p) and (q, p); equal labels add up.
        """
        if mats is None:
            mats = self.matrices(params)
        out = []
        for group_mats, entries in zip(mats, self.free_entries, strict=True):
            dsigma_e, dmu_e = entry_derivatives(group_mats, entries)
            p = dsigma_e.shape[1]
            dsigma = np.zeros((self.n_free, p, p))
            dmu = np.zeros((self.n_free, p))
            np.add.at(dsigma, entries.param, dsigma_e)
            np.add.at(dmu, entries.param, dmu_e)
            out.append((dsigma, dmu))
        return out


def entry_derivatives(mats: dict[str, np.ndarray], entries: Entries) -> tuple[np.ndarray, np.ndarray]:
    """d Sigma / d element and d mu / d element for each listed matrix element (vectorised).

    Lambda_ij: E_ij Psi Lambda' + Lambda Psi E_ji and e_i alpha_j; Psi_ab: l_a l_b' + l_b l_a';
    Theta_kl: E_kl + E_lk; nu_i: e_i; alpha_a: l_a.
    """
    lam, psi, alpha = mats["lambda"], mats["psi"], mats["alpha"]
    p = lam.shape[0]
    count = len(entries.matrix)
    dsigma = np.zeros((count, p, p))
    dmu = np.zeros((count, p))
    kind, row, col = entries.matrix, entries.row, entries.col

    k = np.flatnonzero(kind == LAMBDA)
    if k.size:
        lam_psi_cols = (lam @ psi)[:, col[k]].T  # (K, p): column j of Lambda Psi
        dsigma[k, row[k], :] += lam_psi_cols
        dsigma[k, :, row[k]] += lam_psi_cols
        dmu[k, row[k]] = alpha[col[k]]
    k = np.flatnonzero(kind == PSI)
    if k.size:
        first, second = lam[:, row[k]].T, lam[:, col[k]].T
        outer = first[:, :, None] * second[:, None, :]
        off_diagonal = (row[k] != col[k]).astype(float)[:, None, None]
        dsigma[k] += outer + off_diagonal * outer.transpose(0, 2, 1)
    k = np.flatnonzero(kind == THETA)
    if k.size:
        dsigma[k, row[k], col[k]] = 1.0
        dsigma[k, col[k], row[k]] = 1.0
    k = np.flatnonzero(kind == NU)
    if k.size:
        dmu[k, row[k]] = 1.0
    k = np.flatnonzero(kind == ALPHA)
    if k.size:
        dmu[k] = lam[:, row[k]].T
    return dsigma, dmu


# ----------------------------------------------------------------------------- building


def _resolve_modifiers(term: Term, group: int, n_groups: int) -> tuple[float | None, str, bool, float | None]:
    """(fixed value, label, forced free, start value) of a term in one group."""
    fixed: float | None = None
    label, forced_free, start = "", False, None
    for modifier in term.modifiers:
        entries = modifier.entries
        if len(entries) == 1:
            entry = entries[0]
        elif len(entries) == n_groups:
            entry = entries[group]
        else:
            raise ModelError(
                f"line {term.line}: the modifier of '{term.lhs} {term.op} {term.rhs}' has {len(entries)} "
                f"values but the data have {n_groups} group(s); give one value or one per group"
            )
        if modifier.kind == "start":
            start = entry  # type: ignore[assignment]
        elif entry is None:
            forced_free = True
        elif isinstance(entry, float):
            fixed = entry
        else:
            label = entry
    return fixed, label, forced_free, start


def model_variables(terms: Sequence[Term]) -> tuple[list[str], list[str]]:
    """Latent and observed variable names in order of appearance (lavaan's order)."""
    latent: list[str] = []
    for term in terms:
        if term.op == "=~" and term.lhs not in latent:
            latent.append(term.lhs)
    if not latent:
        raise ModelError("the model has no latent variable; define one with '=~', e.g. 'f =~ x1 + x2 + x3'")
    observed: list[str] = []
    for term in terms:
        names = [term.rhs] if term.op == "=~" else [term.lhs] + ([term.rhs] if term.op == "~~" else [])
        for name in names:
            if name not in latent and name not in observed:
                observed.append(name)
        if term.op == "=~" and term.rhs in latent:
            raise ModelError(
                f"line {term.line}: '{term.lhs} =~ {term.rhs}' makes a second-order factor, which cfa() "
                "does not support yet"
            )
    return latent, observed


def build_model(
    terms: Sequence[Term],
    data_columns: Sequence[str],
    groups: Sequence[str] = ("all",),
    *,
    meanstructure: bool = False,
    group_equal: Sequence[str] = (),
    group_partial: Sequence[str] = (),
    std_lv: bool = False,
) -> Model:
    """Build the parameter table and matrices of a CFA from parsed syntax.

    Raises :class:`ModelError` for unknown variables, second-order factors, duplicated
    parameters, latent variables without a scale and models with negative degrees of freedom.
    """
    for kind in group_equal:
        if kind not in GROUP_EQUAL_TYPES:
            raise ModelError(f"unknown group_equal entry '{kind}'; choose from {', '.join(GROUP_EQUAL_TYPES)}")
    if any(t.op == "~" for t in terms):
        meanstructure = True  # as lavaan: an intercept in the syntax switches the mean structure on

    latent, observed = model_variables(terms)
    columns = set(map(str, data_columns))
    unknown = [name for name in observed if name not in columns]
    if unknown:
        lines = sorted({t.line for t in terms if t.lhs in unknown or t.rhs in unknown})
        raise ModelError(
            f"the model names variable(s) not in the data: {', '.join(unknown)} (line(s) "
            f"{', '.join(map(str, lines))}); the data columns are: {', '.join(sorted(columns))}"
        )
    ov_index = {name: i for i, name in enumerate(observed)}
    lv_index = {name: i for i, name in enumerate(latent)}
    n_groups = len(groups)

    rows: list[dict] = []
    for g in range(n_groups):
        seen: dict[tuple[str, str, str], int] = {}

        def add(lhs, op, rhs, *, fixed, label="", forced_free=False, start=None, user=True, line=0,
                _g=g, _seen=seen):
            key = (lhs, op, rhs) if op != "~~" else (min(lhs, rhs), op, max(lhs, rhs))
            if key in _seen:
                raise ModelError(f"line {line}: '{lhs} {op} {rhs}' is specified twice")
            _seen[key] = len(rows)
            rows.append(dict(lhs=lhs, op=op, rhs=rhs, group=_g, fixed=fixed, label=label,
                             forced_free=forced_free, start=start, user=user, line=line))

        first_indicator_done: set[str] = set()
        for term in terms:
            fixed, label, forced_free, start = _resolve_modifiers(term, g, n_groups)
            if term.op == "=~":
                is_marker = term.lhs not in first_indicator_done
                first_indicator_done.add(term.lhs)
                if is_marker and not std_lv and fixed is None and not forced_free:
                    fixed = 1.0  # marker-variable identification, lavaan's auto.fix.first
                add(term.lhs, "=~", term.rhs, fixed=fixed, label=label, forced_free=forced_free,
                    start=start, line=term.line)
            elif term.op == "~~":
                if std_lv and term.lhs == term.rhs and term.lhs in lv_index and fixed is None:
                    fixed = 1.0
                add(term.lhs, "~~", term.rhs, fixed=fixed, label=label, forced_free=forced_free,
                    start=start, line=term.line)
            else:  # "~ 1"
                add(term.lhs, "~1", "", fixed=fixed, label=label, forced_free=forced_free,
                    start=start, line=term.line)
        # lavaan cfa() defaults, added only where the user said nothing
        for name in observed:
            if (name, "~~", name) not in seen:
                add(name, "~~", name, fixed=None, user=False)
        for name in latent:
            if (name, "~~", name) not in seen:
                add(name, "~~", name, fixed=1.0 if std_lv else None, user=False)
        for a in range(len(latent)):
            for b in range(a + 1, len(latent)):
                lhs, rhs = latent[a], latent[b]
                if (min(lhs, rhs), "~~", max(lhs, rhs)) not in seen:
                    add(lhs, "~~", rhs, fixed=None, user=False)
        if meanstructure:
            for name in observed:
                if (name, "~1", "") not in seen:
                    add(name, "~1", "", fixed=None, user=False)
            free_means = g > 0 and "intercepts" in group_equal and "means" not in group_equal
            for name in latent:
                if (name, "~1", "") not in seen:
                    add(name, "~1", "", fixed=None if free_means else 0.0, user=False)

    table = pd.DataFrame(rows)
    table["free_flag"] = table["fixed"].isna()

    # group.equal: one shared label per parameter across groups
    if n_groups > 1 and group_equal:
        partial = {s.replace(" ", "") for s in group_partial}

        def equal_type(row) -> str | None:
            lhs_latent = row["lhs"] in lv_index
            if row["op"] == "=~":
                return "loadings"
            if row["op"] == "~1":
                return "means" if lhs_latent else "intercepts"
            if row["lhs"] == row["rhs"]:
                return "lv.variances" if lhs_latent else "residuals"
            return "lv.covariances" if lhs_latent else "residual.covariances"

        kinds = table.apply(equal_type, axis=1)
        keys = table["lhs"] + table["op"] + table["rhs"]  # "f=~x2", "x1~~x1", "x1~1"
        constrain = kinds.isin(group_equal) & table["free_flag"] & (table["label"] == "")
        constrain &= ~keys.isin(partial)
        table.loc[constrain, "label"] = ".eq." + keys[constrain]

    # free indices: equal labels share one
    free = np.zeros(len(table), dtype=int)
    label_index: dict[str, int] = {}
    count = 0
    for i, (is_free, label) in enumerate(zip(table["free_flag"], table["label"], strict=True)):
        if not is_free:
            continue
        if label and label in label_index:
            free[i] = label_index[label]
            continue
        count += 1
        free[i] = count
        if label:
            label_index[label] = count
    table["free"] = free
    table["ustart"] = table["fixed"].astype(float)

    # matrix positions
    matrix = np.empty(len(table), dtype=int)
    mrow = np.empty(len(table), dtype=int)
    mcol = np.zeros(len(table), dtype=int)
    for i, (lhs, op, rhs) in enumerate(zip(table["lhs"], table["op"], table["rhs"], strict=True)):
        if op == "=~":
            matrix[i], mrow[i], mcol[i] = LAMBDA, ov_index[rhs], lv_index[lhs]
        elif op == "~~":
            if (lhs in lv_index) != (rhs in lv_index):
                raise ModelError(f"'{lhs} ~~ {rhs}' mixes a latent and an observed variable; cfa() "
                                 "cannot model that covariance")
            if lhs in lv_index:
                matrix[i], mrow[i], mcol[i] = PSI, lv_index[lhs], lv_index[rhs]
            else:
                matrix[i], mrow[i], mcol[i] = THETA, ov_index[lhs], ov_index[rhs]
        else:
            matrix[i], mrow[i] = (ALPHA, lv_index[lhs]) if lhs in lv_index else (NU, ov_index[lhs])
    table["matrix"] = [MATRIX_NAMES[c] for c in matrix]
    table["row"], table["col"] = mrow, mcol

    p, m = len(observed), len(latent)
    free_entries, fixed_matrices = [], []
    for g in range(n_groups):
        in_group = (table["group"] == g).to_numpy()
        is_free = free > 0
        sel = in_group & is_free
        free_entries.append(Entries(matrix=matrix[sel], row=mrow[sel], col=mcol[sel], param=free[sel] - 1))
        mats = {"lambda": np.zeros((p, m)), "psi": np.zeros((m, m)), "theta": np.zeros((p, p)),
                "nu": np.zeros(p), "alpha": np.zeros(m)}
        for i in np.flatnonzero(in_group & ~is_free):
            name, value = MATRIX_NAMES[matrix[i]], float(table["ustart"].iat[i])
            if matrix[i] in (NU, ALPHA):
                mats[name][mrow[i]] = value
            else:
                mats[name][mrow[i], mcol[i]] = value
                if matrix[i] != LAMBDA:
                    mats[name][mcol[i], mrow[i]] = value
        fixed_matrices.append(mats)

    model = Model(
        table=table.drop(columns=["fixed", "forced_free"]),
        observed=tuple(observed), latent=tuple(latent), groups=tuple(map(str, groups)),
        meanstructure=meanstructure, n_free=count,
        free_entries=tuple(free_entries), fixed_matrices=tuple(fixed_matrices),
    )
    check_identification(model)
    return model


def check_identification(model: Model) -> None:
    """Necessary conditions: every latent variable has a scale, and df >= 0 (t-rule)."""
    table = model.table
    for g in range(model.n_groups):
        in_group = table[table["group"] == g]
        for name in model.latent:
            loadings = in_group[(in_group["op"] == "=~") & (in_group["lhs"] == name)]
            variance = in_group[(in_group["op"] == "~~") & (in_group["lhs"] == name) & (in_group["rhs"] == name)]
            has_marker = ((~loadings["free_flag"]) & (loadings["ustart"].abs() > 0)).any()
            fixed_variance = (~variance["free_flag"]).any()
            if not (has_marker or fixed_variance):
                raise ModelError(
                    f"latent variable '{name}' has no scale (group {model.groups[g]}): every loading and its "
                    "variance are free; fix one loading (e.g. 1*x) or its variance (e.g. "
                    f"'{name} ~~ 1*{name}')"
                )
    if model.df < 0:
        raise ModelError(
            f"the model is not identified: it has {model.n_free} free parameters but only "
            f"{model.n_groups * model.n_moments_per_group} sample moments (df = {model.df}); fix or "
            "constrain parameters, or add indicators"
        )
