"""Structural equation models: confirmatory factor analysis and measurement invariance.

Files follow lavaan's split: syntax (parser), model (parameter table and matrices), estimators
(estimator_ml, fiml), optimizer, fit (test statistics and fit measures), standardized,
modindices, and the user-facing cfa and invariance.
"""

from .cfa import CFAResult, EstimatorNotAvailableError, cfa
from .invariance import InvarianceResult, invariance

__all__ = ["CFAResult", "EstimatorNotAvailableError", "InvarianceResult", "cfa", "invariance"]
