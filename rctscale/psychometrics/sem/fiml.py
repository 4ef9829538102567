"""Full-information ML with missing data (lavaan's missing = "ml", here ``missing="fiml"``).

The casewise log-likelihood is summed pattern by pattern: for the rows of a missingness
pattern with observed variables o, count n_k, mean ybar_k and covariance S_k (divisor n_k)::

    logl_k = -n_k/2 [ p_o log(2 pi) + log|Sigma_oo| + tr(Sigma_oo^-1 S_k) + d_k' Sigma_oo^-1 d_k ]

The objective is -logl / N. The test statistic compares with the saturated model, whose
means and covariances are estimated by EM: chisq = 2 (logl_sat - logl). The baseline
(independence) model factorises over variables, so its ML estimates are each variable's
available-case mean and variance (divisor n_j). Standard errors use the observed information
(lavaan's default with missing = "ml"): the Hessian of -logl, by central differences of the
analytic gradient.
"""

from __future__ import annotations

import numpy as np

from rctscale.errors import ConvergenceError

from .estimator_ml import LOG_2PI, unit_information
from .model import Model
from .samplestats import GroupStats, SampleStats

EM_TOLERANCE = 1e-11  # max absolute change of the saturated means / covariances
EM_MAX_ITERATIONS = 10_000
# relative step of the central differences for the observed information
HESSIAN_STEP = 1e-5


def _pattern_terms(sigma: np.ndarray, mu: np.ndarray, group: GroupStats):
    """Yield (pattern, observed index, Sigma_oo^-1, d, logl_k) per missingness pattern."""
    for pattern in group.patterns:
        index = np.flatnonzero(pattern.observed)
        sigma_oo = sigma[np.ix_(index, index)]
        chol = np.linalg.cholesky(sigma_oo)
        chol_inv = np.linalg.inv(chol)
        inverse = chol_inv.T @ chol_inv
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        diff = pattern.mean - mu[index]
        value = -0.5 * pattern.n * (len(index) * LOG_2PI + logdet + np.sum(inverse * pattern.cov)
                                   + diff @ inverse @ diff)
        yield pattern, index, inverse, diff, value


def _loglik_group(sigma: np.ndarray, mu: np.ndarray, group: GroupStats) -> float:
    try:
        return float(sum(term[-1] for term in _pattern_terms(sigma, mu, group)))
    except np.linalg.LinAlgError:
        return -np.inf


def em_saturated(group: GroupStats) -> tuple[np.ndarray, np.ndarray]:
    """EM estimates of the unrestricted mean vector and covariance matrix of one group."""
    p = len(group.mean)
    mu = group.mean.copy()
    sigma = np.diag(np.diag(group.cov)).astype(float)  # a positive definite start
    for _ in range(EM_MAX_ITERATIONS):
        total, cross = np.zeros(p), np.zeros((p, p))
        for pattern in group.patterns:
            o = np.flatnonzero(pattern.observed)
            m = np.flatnonzero(~pattern.observed)
            n = pattern.n
            sum_o = n * pattern.mean
            cross_oo = n * (pattern.cov + np.outer(pattern.mean, pattern.mean))
            total[o] += sum_o
            cross[np.ix_(o, o)] += cross_oo
            if m.size:
                regression = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)]).T  # B = S_mo S_oo^-1
                intercept = mu[m] - regression @ mu[o]
                conditional = sigma[np.ix_(m, m)] - regression @ sigma[np.ix_(o, m)]
                total[m] += n * intercept + regression @ sum_o
                cross_mo = np.outer(intercept, sum_o) + regression @ cross_oo
                cross[np.ix_(m, o)] += cross_mo
                cross[np.ix_(o, m)] += cross_mo.T
                cross[np.ix_(m, m)] += (n * conditional + n * np.outer(intercept, intercept)
                                        + np.outer(intercept, regression @ sum_o)
                                        + np.outer(regression @ sum_o, intercept)
                                        + regression @ cross_oo @ regression.T)
        new_mu = total / group.n
        new_sigma = cross / group.n - np.outer(new_mu, new_mu)
        change = max(np.abs(new_mu - mu).max(), np.abs(new_sigma - sigma).max())
        mu, sigma = new_mu, new_sigma
        if change < EM_TOLERANCE:
            return sigma, mu
    raise ConvergenceError("the EM algorithm for the saturated model did not converge; "
                           "a variable may have too few answers")


class FIMLEstimator:
    """Casewise (pattern-wise) maximum likelihood for incomplete data."""

    name = "ML"
    information_type = "observed"

    def __init__(self) -> None:
        self._saturated: dict[int, tuple[list[tuple[np.ndarray, np.ndarray]], float]] = {}

    # --- objective and derivatives -----------------------------------------------------
    def loglik(self, model: Model, params: np.ndarray, stats: SampleStats) -> float:
        total = 0.0
        for (sigma, mu), group in zip(model.implied(params), stats.groups, strict=True):
            total += _loglik_group(sigma, mu, group)
        return float(total)

    def objective(self, model: Model, params: np.ndarray, stats: SampleStats) -> float:
        value = -self.loglik(model, params, stats) / stats.ntotal
        return value if np.isfinite(value) else np.inf

    def derivatives(self, model: Model, params: np.ndarray, stats: SampleStats, *,
                    with_information: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        mats = model.matrices(params)
        jacobians = model.jacobian(params, mats)
        gradient = np.zeros(model.n_free)
        information = np.zeros((model.n_free, model.n_free)) if with_information else None
        for group_mats, group, (dsigma, dmu) in zip(mats, stats.groups, jacobians, strict=True):
            sigma, mu = model.implied_moments(group_mats)
            p = len(mu)
            core, mean_part = np.zeros((p, p)), np.zeros(p)
            for pattern, index, inverse, diff, _ in _pattern_terms(sigma, mu, group):
                target = pattern.cov + np.outer(diff, diff)
                core[np.ix_(index, index)] += pattern.n * (inverse - inverse @ target @ inverse)
                mean_part[index] += pattern.n * (inverse @ diff)
                if with_information:
                    information += pattern.n * unit_information(
                        inverse, dsigma[:, index][:, :, index], dmu[:, index])
            gradient += 0.5 * np.tensordot(dsigma, core, axes=([1, 2], [0, 1])) - dmu @ mean_part
        gradient /= stats.ntotal
        if information is not None:
            information /= stats.ntotal
        return gradient, information

    def gradient(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        return self.derivatives(model, params, stats, with_information=False)[0]

    def information(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        """Expected information (for optimisation steps)."""
        return self.derivatives(model, params, stats)[1]

    def observed_information(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        """Hessian of -logl / N by central differences of the analytic gradient."""
        q = len(params)
        hessian = np.empty((q, q))
        for k in range(q):
            step = HESSIAN_STEP * max(1.0, abs(params[k]))
            shift = np.zeros(q)
            shift[k] = step
            hessian[:, k] = (self.gradient(model, params + shift, stats)
                             - self.gradient(model, params - shift, stats)) / (2 * step)
        return 0.5 * (hessian + hessian.T)

    def vcov(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        return np.linalg.inv(stats.ntotal * self.observed_information(model, params, stats))

    # --- saturated and baseline models --------------------------------------------------
    def _h1(self, stats: SampleStats) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
        key = id(stats)
        if key not in self._saturated:
            moments = [em_saturated(group) for group in stats.groups]
            loglik = sum(_loglik_group(sigma, mu, group)
                         for (sigma, mu), group in zip(moments, stats.groups, strict=True))
            self._saturated[key] = (moments, float(loglik))
        return self._saturated[key]

    def saturated_moments(self, stats: SampleStats) -> list[tuple[np.ndarray, np.ndarray]]:
        return self._h1(stats)[0]

    def loglik_saturated(self, stats: SampleStats) -> float:
        return self._h1(stats)[1]

    def chisq(self, model: Model, params: np.ndarray, stats: SampleStats) -> float:
        return 2.0 * (self.loglik_saturated(stats) - self.loglik(model, params, stats))

    def baseline(self, stats: SampleStats) -> tuple[float, int]:
        loglik = 0.0
        for group in stats.groups:
            sums = np.zeros(len(group.mean))
            squares = np.zeros(len(group.mean))
            counts = np.zeros(len(group.mean))
            for pattern in group.patterns:
                index = np.flatnonzero(pattern.observed)
                counts[index] += pattern.n
                sums[index] += pattern.n * pattern.mean
                squares[index] += pattern.n * (np.diag(pattern.cov) + pattern.mean**2)
            means = sums / counts
            variances = squares / counts - means**2
            loglik += float(np.sum(-0.5 * counts * (LOG_2PI + np.log(variances) + 1.0)))
        p = len(stats.groups[0].mean)
        return 2.0 * (self.loglik_saturated(stats) - loglik), len(stats.groups) * p * (p - 1) // 2
