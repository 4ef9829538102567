"""Diagonally weighted least squares with robust inference (lavaan's estimator = "WLSMV").

Per group g, with s_g the sample thresholds and polychoric correlations, sigma_g(theta) the
model-implied ones (model_ordinal.py), Gamma_g their asymptotic covariance matrix and
W_g = diag(Gamma_g)^-1 (samplestats_ordinal.py)::

    F_g = (s_g - sigma_g)' W_g (s_g - sigma_g)
    fmin = sum_g (N_g - 1) / N * F_g / 2                     (lavaan's fmin for DWLS)
    T = 2 N fmin = sum_g (N_g - 1) F_g                       (the unscaled chi-square)

Gradient and Gauss-Newton information (Delta_g = d sigma_g / d theta)::

    d fmin / d theta = -sum_g (N_g - 1) / N  Delta_g' W_g (s_g - sigma_g)
    H = sum_g (N_g - 1) / N  Delta_g' W_g Delta_g

Robust ("sandwich", lavaan's se = "robust.sem") standard errors, with f_g = N_g / N::

    E = sum_g f_g Delta_g' W_g Delta_g,     B = sum_g f_g Delta_g' W_g Gamma_g W_g Delta_g
    vcov = E^-1 B E^-1 / (N - G)

The mean-and-variance adjusted ("scaled.shifted", WLSMV's) test (Asparouhov & Muthen 2010;
lavaan's lav_test_satorra_bentler, method "original"): with V = blockdiag(f_g W_g),
Gamma = blockdiag(Gamma_g / f_g) and Delta stacked over groups::

    U = V - V Delta E^-1 Delta' V,   a = sqrt(df / tr((U Gamma)^2)),   b = df - a tr(U Gamma)
    T_scaled = a T + b                    (scaling factor 1 / a, shift parameter b)

The baseline model (zero correlations, free thresholds) is fitted exactly by its thresholds,
so T_b = sum_g (N_g - 1) sum_{i>j} w_ij r_ij^2 with df_b = G p (p - 1) / 2, and its scaled
statistic follows from the same formulas with Delta_b = [I; 0].

Nested models are compared with lavaan's lavTestLRT default for WLSMV: Satorra's (2000)
difference test in its scaled-and-shifted form (lav_test_diff_Satorra2000, A.method "delta").

References: Muthen, B., du Toit, S. H. C. & Spisic, D. (1997). Robust inference using weighted
least squares and quadratic estimating equations in latent variable modeling with categorical
and continuous outcomes. Asparouhov, T. & Muthen, B. (2010). Simple second order chi-square
correction (Mplus technical appendix). Satorra, A. (2000). Scaled and adjusted restricted tests
in multi-sample analysis of moment structures. In Heijmans et al. (eds.), Innovations in
Multivariate Statistical Analysis, 233-247.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy import stats as scipy_stats

from .model_ordinal import OrdinalModel
from .samplestats_ordinal import OrdinalSampleStats

# relative size of R's diagonal below which H's columns count as dependent (R's qr() tolerance)
RANK_TOLERANCE = 1e-7


@dataclass(frozen=True)
class ScaledTest:
    """lavaan's scaled.shifted test: T_scaled = T / scaling_factor + shift."""

    stat: float
    df: int
    scaling_factor: float  # 1 / a
    shift: float  # b
    trace_ugamma: float
    trace_ugamma2: float


def scaled_shifted(stat: float, df: int, trace: float, trace2: float) -> ScaledTest:
    """a = sqrt(df / tr(UG^2)), b = df - a tr(UG), T_scaled = a T + b (lavaan, ug2.old.approach = FALSE)."""
    if df <= 0 or not np.isfinite(trace2) or trace2 <= 0:
        return ScaledTest(stat, df, float("nan"), float("nan"), trace, trace2)
    a = np.sqrt(df / trace2)
    shift = df - a * trace
    return ScaledTest(float(stat * a + shift), int(df), float(1.0 / a), float(shift), float(trace), float(trace2))


def _block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    return linalg.block_diag(*blocks) if len(blocks) > 1 else blocks[0]


def ugamma_traces(jacobians: list[np.ndarray], stats: OrdinalSampleStats, information_inverse: np.ndarray
                  ) -> tuple[float, float]:
    """tr(U Gamma) and tr((U Gamma)^2) of lavaan's lav_test_satorra_bentler_trace_original."""
    f = stats.weights
    v_diag = np.concatenate([fg * g.wls_vd for fg, g in zip(f, stats.groups, strict=True)])
    gamma = _block_diag([g.gamma / fg for fg, g in zip(f, stats.groups, strict=True)])
    delta = np.vstack(jacobians)
    v_delta = v_diag[:, None] * delta
    u = np.diag(v_diag) - v_delta @ information_inverse @ v_delta.T
    ug = u @ gamma
    return float(np.sum(u * gamma)), float(np.sum(ug * ug.T))


def baseline_tests(stats: OrdinalSampleStats, robust: bool) -> tuple[float, int, ScaledTest | None]:
    """Unscaled statistic, df and scaled.shifted test of the independence model.

    Its thresholds reproduce the sample thresholds exactly, so only the correlations count:
    T_b = sum_g (N_g - 1) sum w_ij r_ij^2. For the traces, Delta_b = [I_nth; 0] per group and
    U Gamma reduces to W_rho Gamma_rho,rho in each group.
    """
    stat, trace, trace2, df = 0.0, 0.0, 0.0, 0
    for group in stats.groups:
        n_th = len(group.thresholds)
        r = group.wls_obs[n_th:]
        w = group.wls_vd[n_th:]
        stat += (group.n - 1) * float(np.sum(w * r * r))
        df += len(r)
        if robust:
            ug = w[:, None] * group.gamma[n_th:, n_th:]
            trace += float(np.trace(ug))
            trace2 += float(np.sum(ug * ug.T))
    return stat, df, (scaled_shifted(stat, df, trace, trace2) if robust else None)


class DWLSEstimator:
    """DWLS point estimates; with ``robust`` (WLSMV) sandwich SEs and the scaled.shifted test."""

    def __init__(self, robust: bool = True) -> None:
        self.robust = robust
        self.name = "WLSMV" if robust else "DWLS"
        self.information_type = "expected"

    @staticmethod
    def _weights(stats: OrdinalSampleStats) -> np.ndarray:
        """(N_g - 1) / N, lavaan's group weights of the DWLS objective and gradient."""
        return np.array([g.n - 1 for g in stats.groups], dtype=float) / stats.ntotal

    def discrepancies(self, model: OrdinalModel, params: np.ndarray, stats: OrdinalSampleStats) -> np.ndarray:
        """F_g = (s_g - sigma_g)' W_g (s_g - sigma_g) per group."""
        out = []
        for implied, group in zip(model.implied(params), stats.groups, strict=True):
            diff = group.wls_obs - implied
            out.append(float(np.sum(group.wls_vd * diff * diff)))
        return np.array(out)

    def objective(self, model: OrdinalModel, params: np.ndarray, stats: OrdinalSampleStats) -> float:
        value = 0.5 * float(self._weights(stats) @ self.discrepancies(model, params, stats))
        return value if np.isfinite(value) else np.inf

    def derivatives(self, model: OrdinalModel, params: np.ndarray, stats: OrdinalSampleStats, *,
                    with_information: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        parts = model.parts(params)
        jacobians = model.jacobian(params, parts)
        gradient = np.zeros(model.n_free)
        information = np.zeros((model.n_free, model.n_free)) if with_information else None
        for weight, part, jac, group in zip(self._weights(stats), parts, jacobians, stats.groups, strict=True):
            w = group.wls_vd
            gradient -= weight * (jac.T @ (w * (group.wls_obs - part.moments())))
            if information is not None:
                information += weight * (jac.T @ (w[:, None] * jac))
        return gradient, information

    def gradient(self, model: OrdinalModel, params: np.ndarray, stats: OrdinalSampleStats) -> np.ndarray:
        return self.derivatives(model, params, stats, with_information=False)[0]

    def information(self, model: OrdinalModel, params: np.ndarray, stats: OrdinalSampleStats) -> np.ndarray:
        return self.derivatives(model, params, stats)[1]

    @staticmethod
    def expected_information(jacobians: list[np.ndarray], stats: OrdinalSampleStats) -> np.ndarray:
        """E = sum_g (N_g / N) Delta_g' W_g Delta_g (lavaan's unit expected information for DWLS)."""
        return sum(fg * (jac.T @ (g.wls_vd[:, None] * jac))
                   for fg, jac, g in zip(stats.weights, jacobians, stats.groups, strict=True))

    def vcov(self, model: OrdinalModel, params: np.ndarray, stats: OrdinalSampleStats,
             jacobians: list[np.ndarray] | None = None) -> np.ndarray:
        """Sandwich (robust) or E^-1 (standard) covariance of the estimates, divided by N - G as lavaan."""
        if jacobians is None:
            jacobians = model.jacobian(params)
        e_inv = np.linalg.inv(self.expected_information(jacobians, stats))
        scale = stats.ntotal - len(stats.groups)
        if not self.robust:
            return e_inv / scale
        middle = np.zeros_like(e_inv)
        for fg, jac, group in zip(stats.weights, jacobians, stats.groups, strict=True):
            wd = group.wls_vd[:, None] * jac
            middle += fg * (wd.T @ group.gamma @ wd)
        return e_inv @ middle @ e_inv / scale

    def loglik(self, model: OrdinalModel, params: np.ndarray, stats: OrdinalSampleStats) -> float:
        return float("nan")

    def loglik_saturated(self, stats: OrdinalSampleStats) -> float:
        return float("nan")

    def chisq(self, model: OrdinalModel, params: np.ndarray, stats: OrdinalSampleStats) -> float:
        """T = sum_g (N_g - 1) F_g (lavaan: 2 N_g fx_g with fx_g = (N_g - 1) / N_g F_g / 2)."""
        counts = np.array([g.n - 1 for g in stats.groups], dtype=float)
        return float(counts @ self.discrepancies(model, params, stats))

    def scaled_test(self, model: OrdinalModel, params: np.ndarray, stats: OrdinalSampleStats,
                    jacobians: list[np.ndarray] | None = None) -> ScaledTest:
        if jacobians is None:
            jacobians = model.jacobian(params)
        e_inv = np.linalg.inv(self.expected_information(jacobians, stats))
        trace, trace2 = ugamma_traces(jacobians, stats, e_inv)
        return scaled_shifted(self.chisq(model, params, stats), model.df, trace, trace2)

    def saturated_moments(self, stats: OrdinalSampleStats) -> list[tuple[np.ndarray, np.ndarray]]:
        """(polychoric correlations, thresholds) per group."""
        return [(g.correlations, g.thresholds) for g in stats.groups]

    def baseline(self, stats: OrdinalSampleStats) -> tuple[float, int]:
        stat, df, _ = baseline_tests(stats, robust=False)
        return stat, df


@dataclass(frozen=True)
class DifferenceTest:
    """Satorra (2000) scaled-and-shifted difference test (lavaan's lavTestLRT for WLSMV)."""

    stat: float
    df: int
    pvalue: float
    scale: float  # a
    shift: float  # b
    naive_difference: float  # T0 - T1 of the unscaled statistics


def satorra_2000(model1: OrdinalModel, params1: np.ndarray, chisq1: float, model0: OrdinalModel,
                 params0: np.ndarray, chisq0: float, stats: OrdinalSampleStats) -> DifferenceTest:
    """Compare the restricted ``model0`` with the less restricted ``model1`` (same data).

    As lav_test_diff_Satorra2000 (H1 = TRUE, A.method = "delta", scaled.shifted = TRUE): with
    Delta_1, Delta_0 the stacked Jacobians at each model's estimates, H = Delta_1^+ Delta_0,
    A' an orthonormal basis of the orthogonal complement of H's columns, P = E_1 the unit
    information of model 1 and V = blockdiag(W_g)::

        PAAPAAP = P^-1 A' (A P^-1 A')^+ A P^-1
        U = V Delta_1 PAAPAAP Delta_1' V,   Gamma_f = blockdiag(f_g Gamma_g)
        a = sqrt(m / tr((U Gamma_f)^2)),    b = m - a tr(U Gamma_f),   T_d = a (T_0 - T_1) + b
    """
    m = int(model0.df - model1.df)
    naive = chisq0 - chisq1
    if m <= 0:
        return DifferenceTest(naive, m, float("nan"), float("nan"), float("nan"), naive)
    jac1 = model1.jacobian(params1)
    jac0 = model0.jacobian(params0)
    delta1, delta0 = np.vstack(jac1), np.vstack(jac0)
    h = np.linalg.pinv(delta1) @ delta0
    q, r, _ = linalg.qr(h, pivoting=True)
    diagonal = np.abs(np.diag(r))
    rank = int(np.sum(diagonal > RANK_TOLERANCE * diagonal.max())) if diagonal.size and diagonal.max() > 0 else 0
    a_mat = q[:, rank:].T
    p_inv = np.linalg.inv(DWLSEstimator.expected_information(jac1, stats))
    apa = a_mat @ p_inv @ a_mat.T
    keep = ~((np.abs(apa.sum(axis=0)) < np.sqrt(np.finfo(float).eps))
             & (np.abs(apa.sum(axis=1)) < np.sqrt(np.finfo(float).eps)))
    a_mat = a_mat[keep]
    core = p_inv @ a_mat.T @ np.linalg.pinv(a_mat @ p_inv @ a_mat.T) @ a_mat @ p_inv
    v_diag = np.concatenate([g.wls_vd for g in stats.groups])
    v_delta = v_diag[:, None] * delta1
    u = v_delta @ core @ v_delta.T
    gamma = _block_diag([fg * g.gamma for fg, g in zip(stats.weights, stats.groups, strict=True)])
    ug = u @ gamma
    trace = float(np.sum(u * gamma))
    trace2 = float(np.sum(ug * ug.T))
    a = np.sqrt(m / trace2)
    shift = m - a * trace
    stat = naive * a + shift
    return DifferenceTest(float(stat), m, float(scipy_stats.chi2.sf(stat, m)), float(a), float(shift), float(naive))
