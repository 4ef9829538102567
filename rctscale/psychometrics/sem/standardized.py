"""The completely standardized solution (lavaan's std.all).

Latent variables are scaled to unit variance (sqrt of Psi's diagonal) and observed variables
to unit model-implied variance (sqrt of Sigma's diagonal). Covariances are standardized as
lavaan's default ``cov.std = TRUE``: residual covariances by the residual variances (a
residual correlation), latent covariances by the latent variances.
"""

from __future__ import annotations

import numpy as np

from .model import ALPHA, LAMBDA, NU, PSI, THETA


def standardize(kind: np.ndarray, row: np.ndarray, col: np.ndarray, value: np.ndarray,
                mats: dict[str, np.ndarray], sigma: np.ndarray) -> np.ndarray:
    """Standardize parameter values ``value`` sitting at matrix positions (kind, row, col)."""
    sd_latent = np.sqrt(np.abs(np.diag(mats["psi"])))
    sd_observed = np.sqrt(np.abs(np.diag(sigma)))
    sd_residual = np.sqrt(np.abs(np.diag(mats["theta"])))
    out = np.full(len(value), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = kind == LAMBDA
        out[k] = value[k] * sd_latent[col[k]] / sd_observed[row[k]]
        k = kind == PSI
        out[k] = value[k] / (sd_latent[row[k]] * sd_latent[col[k]])
        k = (kind == THETA) & (row == col)
        out[k] = value[k] / sd_observed[row[k]] ** 2
        k = (kind == THETA) & (row != col)
        out[k] = value[k] / (sd_residual[row[k]] * sd_residual[col[k]])
        k = kind == NU
        out[k] = value[k] / sd_observed[row[k]]
        k = kind == ALPHA
        out[k] = value[k] / sd_latent[row[k]]
    return out
