"""The estimator interface: what an optimiser and the test statistics need from an estimator.

As in lavaan, the estimator is one module; the model (matrices and their derivatives), the
optimiser and the fit measures do not know which estimator they serve. A new estimator (WLSMV,
ULS, ...) is a new class with these methods, not an ``if`` in every function.

All quantities are on lavaan's scale: ``objective`` is lavaan's ``fmin`` (for ML, half the
usual discrepancy, weighted by N_g / N over groups), so the test statistic is
``2 * N * objective`` and ``information`` is the Hessian (or its expectation) of ``objective``,
i.e. the unit information; ``vcov = inv(N * information)``.

estimator_dwls.DWLSEstimator (ordinal items) implements the same methods on its own model and
sample-statistics types (model_ordinal.OrdinalModel, samplestats_ordinal.OrdinalSampleStats);
its objective is lavaan's DWLS fmin, so the unscaled test statistic is again 2 N fmin.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .model import Model
from .samplestats import SampleStats


class Estimator(Protocol):
    name: str

    def objective(self, model: Model, params: np.ndarray, stats: SampleStats) -> float:
        """The discrepancy function at ``params`` (``inf`` where the model is not admissible)."""

    def gradient(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        """Analytic gradient of ``objective`` with respect to the free parameters."""

    def information(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        """Unit information used for optimisation steps (Fisher scoring)."""

    def derivatives(self, model: Model, params: np.ndarray, stats: SampleStats
                    ) -> tuple[np.ndarray, np.ndarray]:
        """``(gradient, information)`` from one pass over the model (the optimiser's hot path)."""

    def vcov(self, model: Model, params: np.ndarray, stats: SampleStats) -> np.ndarray:
        """Sampling covariance matrix of the free parameters (standard errors)."""

    def loglik(self, model: Model, params: np.ndarray, stats: SampleStats) -> float:
        """Log-likelihood of the model (nan for estimators without one)."""

    def loglik_saturated(self, stats: SampleStats) -> float:
        """Log-likelihood of the unrestricted (saturated) model."""

    def chisq(self, model: Model, params: np.ndarray, stats: SampleStats) -> float:
        """The model test statistic."""

    def saturated_moments(self, stats: SampleStats) -> list[tuple[np.ndarray, np.ndarray]]:
        """(covariance, mean) of the unrestricted model per group (what residuals compare with)."""

    def baseline(self, stats: SampleStats) -> tuple[float, int]:
        """Test statistic and df of the independence (baseline) model."""
