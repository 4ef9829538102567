"""Starting values for the free parameters.

Close to lavaan's defaults: residual variances half the observed variances, latent
covariances 0, intercepts the sample means, latent means 0; loadings and latent variances from
the leading eigenvector of each factor's indicator covariance matrix, rescaled to the factor's
identification (marker loading or fixed variance). Start values only affect the path to the
optimum, never the optimum, but good ones save Fisher-scoring iterations.
"""

from __future__ import annotations

import numpy as np

from .model import Model
from .samplestats import SampleStats

# lavaan starts residual variances at half the observed variance
RESIDUAL_VARIANCE_SHARE = 0.5
# a latent variance start used when the eigenvector cannot be rescaled (near-zero marker)
FALLBACK_LATENT_VARIANCE = 0.05


def start_values(model: Model, stats: SampleStats) -> np.ndarray:
    table = model.table
    values = np.full(len(table), np.nan)
    ov_index = {name: i for i, name in enumerate(model.observed)}
    ops, lhs_all, rhs_all = table["op"].to_numpy(), table["lhs"].to_numpy(), table["rhs"].to_numpy()
    groups = table["group"].to_numpy()
    fixed_value = table["ustart"].to_numpy()
    for g, group in enumerate(stats.groups):
        cov, mean = group.cov, group.mean
        in_group = groups == g
        for name in model.latent:
            rows = np.flatnonzero(in_group & (ops == "=~") & (lhs_all == name))
            items = [ov_index[r] for r in rhs_all[rows]]
            block = cov[np.ix_(items, items)]
            if len(items) >= 2:
                eigenvalues, eigenvectors = np.linalg.eigh(block)
                loading_pc = eigenvectors[:, -1] * np.sqrt(max(eigenvalues[-1], 1e-8))
            else:
                loading_pc = np.sqrt(RESIDUAL_VARIANCE_SHARE * np.diag(block))
            fixed_rows = [k for k, r in enumerate(rows) if not np.isnan(fixed_value[r]) and fixed_value[r] != 0]
            variance_row = np.flatnonzero(in_group & (ops == "~~") & (lhs_all == name) & (rhs_all == name))
            if fixed_rows:
                k = fixed_rows[0]
                scale = loading_pc[k] / fixed_value[rows[k]]
                if abs(scale) < 1e-6:
                    scale, psi = np.sqrt(FALLBACK_LATENT_VARIANCE), FALLBACK_LATENT_VARIANCE
                else:
                    psi = scale**2
            else:
                psi = fixed_value[variance_row[0]] if variance_row.size and not np.isnan(
                    fixed_value[variance_row[0]]) else 1.0
                # eigenvectors have no sign: orient the first indicator positively, as lavaan's
                # std.lv solutions are
                scale = (np.sqrt(psi) if psi > 0 else 1.0) * (1.0 if loading_pc[0] >= 0 else -1.0)
            values[rows] = loading_pc / scale
            values[variance_row] = psi
        for r in np.flatnonzero(in_group & (ops == "~~")):
            lhs, rhs = lhs_all[r], rhs_all[r]
            if lhs in ov_index and lhs == rhs:
                values[r] = RESIDUAL_VARIANCE_SHARE * cov[ov_index[lhs], ov_index[lhs]]
            elif lhs != rhs:
                values[r] = 0.0
        for r in np.flatnonzero(in_group & (ops == "~1")):
            values[r] = mean[ov_index[lhs_all[r]]] if lhs_all[r] in ov_index else 0.0
    user_start = table["start"].to_numpy(dtype=float) if "start" in table else np.full(len(table), np.nan)
    values = np.where(np.isnan(user_start), values, user_start)
    free = table["free"].to_numpy()
    params = np.zeros(model.n_free)
    # the first occurrence of each free index gives its start (equal labels share one value)
    order = np.flatnonzero(free > 0)[::-1]
    params[free[order] - 1] = values[order]
    return np.nan_to_num(params)
