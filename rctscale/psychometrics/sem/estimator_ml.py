"""Maximum likelihood for complete data (lavaan's estimator = "ML", likelihood = "normal").

Per group, with S the covariance matrix with divisor N_g and d = ybar - mu::

    F_g = 1/2 [ log|Sigma| + tr(S Sigma^-1) - log|S| - p + d' Sigma^-1 d ]

and F = sum_g (N_g / N) F_g, lavaan's ``fmin``; the test statistic is 2 N F. Without a mean
structure the means are saturated and d = 0. Gradient (dS_k = d Sigma / d theta_k)::

    dF_g/dtheta_k = 1/2 tr(G dS_k) - (Sigma^-1 d)' dmu_k,   G = Sigma^-1 - Sigma^-1 (S + dd') Sigma^-1

Expected unit information (lavaan's information = "expected")::

    I_g[k, l] = 1/2 tr(Sigma^-1 dS_k Sigma^-1 dS_l) + dmu_k' Sigma^-1 dmu_l,   I = sum_g (N_g/N) I_g

and vcov = inv(N I), which is how lavaan scales multi-group standard errors.
"""

from __future__ import annotations

import numpy as np

from .fit import baseline_chisq
from .model import Model
from .samplestats import SampleStats

LOG_2PI = np.log(2.0 * np.pi)


def _inverse_and_logdet(sigma: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Cholesky-based inverse and log-determinant; None when Sigma is not positive definite."""
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return None
    chol_inv = np.linalg.inv(chol)
    return chol_inv.T @ chol_inv, 2.0 * float(np.log(np.diag(chol)).sum())


def unit_information(sigma_inv: np.ndarray, dsigma: np.ndarray, dmu: np.ndarray | None) -> np.ndarray:
    """1/2 tr(Sigma^-1 dS_k Sigma^-1 dS_l) (+ dmu_k' Sigma^-1 dmu_l): the normal Fisher information."""
    q = dsigma.shape[0]
    product = np.matmul(sigma_inv, dsigma)  # (q, p, p): Sigma^-1 dS_k
    info = 0.5 * product.reshape(q, -1) @ product.transpose(0, 2, 1).reshape(q, -1).T
    if dmu is not None:
        info += dmu @ sigma_inv @ dmu.T
    return info


class MLEstimator:
    """Normal-theory maximum likelihood on complete data."""

    name = "ML"

    def _group_terms(self, model: Model, params: np.ndarray, stats: SampleStats):
        mats = model.matrices(params)
        for group_mats, group in zip(mats, stats.groups, strict=True):
            sigma, mu = model.implied_moments(group_mats)
            yield group_mats, group, sigma, mu

    def objective(self, model: Model, params: np.ndarray, stats: SampleStats) -> float:
        total = 0.0
        for weight, (_, group, sigma, mu) in zip(stats.weights, self._group_terms(model, params, stats),
                                                 strict=True):
            inverse = _inverse_and_logdet(sigma)
            if inverse is None:
                return np.inf
            sigma_inv, logdet = inverse
            p = len(mu)
            value = logdet + np.sum(group.cov * sigma_inv) - np.linalg.slogdet(group.cov)[1] - p
            if model.meanstructure:
                diff = group.mean - mu
                value += diff @ sigma_inv @ diff
            total += weight * 0.5 * value
        return float(total)

    def derivatives(self, model: Model, params: np.ndarray, stats: SampleStats, *,
                    with_information: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        mats = model.matrices(params)
        jacobians = model.jacobian(params, mats)
        gradient = np.zeros(model.n_free)
        information = np.zeros((model.n_free, model.n_free))
        for weight, group_mats, group, (dsigma, dmu) in zip(stats.weights, mats, stats.groups, jacobians,
                                                              strict=True):
            sigma, mu = model.implied_moments(group_mats)
            inverse = _inverse_and_logdet(sigma)
            if inverse is None:
                raise np.linalg.LinAlgError("model-implied covariance matrix is not positive definite")
            sigma_inv = inverse[0]
            target = group.cov
            if model.meanstructure:
                diff = group.mean - mu
                target = target + np.outer(diff, diff)
            core = sigma_inv - sigma_inv @ target @ sigma_inv
            grad = 0.5 * np.tensordot(dsigma, core, axes=([1, 2], [0, 1]))
            if model.meanstructure:
                grad -= dmu @ (sigma_inv @ diff)
            gradient += weight * grad
            if with_information:
                information += weight * unit_information(sigma_inv, dsigma, dmu if model.meanstructure else None)
        return gradient, (information if with_information else None)

    def gradient(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        return self.derivatives(model, params, stats, with_information=False)[0]

    def information(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        return self.derivatives(model, params, stats)[1]

    def vcov(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        return np.linalg.inv(stats.ntotal * self.information(model, params, stats))

    def loglik(self, model: Model, params: np.ndarray, stats: SampleStats) -> float:
        total = 0.0
        for _, group, sigma, mu in self._group_terms(model, params, stats):
            sigma_inv, logdet = _inverse_and_logdet(sigma)
            p = len(mu)
            value = p * LOG_2PI + logdet + np.sum(group.cov * sigma_inv)
            if model.meanstructure:
                diff = group.mean - mu
                value += diff @ sigma_inv @ diff
            total += -0.5 * group.n * value
        return float(total)

    def loglik_saturated(self, stats: SampleStats) -> float:
        total = 0.0
        for group in stats.groups:
            p = len(group.mean)
            total += -0.5 * group.n * (p * LOG_2PI + np.linalg.slogdet(group.cov)[1] + p)
        return float(total)

    def chisq(self, model: Model, params: np.ndarray, stats: SampleStats) -> float:
        return 2.0 * stats.ntotal * self.objective(model, params, stats)

    def saturated_moments(self, stats: SampleStats) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(group.cov, group.mean) for group in stats.groups]

    def baseline(self, stats: SampleStats) -> tuple[float, int]:
        return baseline_chisq([g.cov for g in stats.groups], [g.n for g in stats.groups])
