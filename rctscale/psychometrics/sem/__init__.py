"""Structural equation models: confirmatory factor analysis and measurement invariance.

Files follow lavaan's split: syntax (parser), model (parameter table and matrices), estimators
(estimator_ml, fiml), optimizer, fit (test statistics and fit measures), standardized,
modindices, and the user-facing cfa and invariance. Ordinal items (``cfa(..., ordered=...)``,
lavaan's WLSMV) have their own sample statistics (samplestats_ordinal: thresholds, polychorics,
Gamma), model (model_ordinal: delta parameterization), estimator (estimator_dwls: DWLS, robust
SEs, scaled.shifted and Satorra-2000 tests) and glue (cfa_ordinal).
"""

from .cfa import CFAResult, EstimatorNotAvailableError, cfa
from .invariance import InvarianceResult, invariance

__all__ = ["CFAResult", "EstimatorNotAvailableError", "InvarianceResult", "cfa", "invariance"]
