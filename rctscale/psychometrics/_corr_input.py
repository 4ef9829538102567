"""Turn the input of a factor-analytic statistic into a checked correlation matrix.

The factor-analytic functions (efa, kmo, bartlett, parallel analysis, MAP, omega) accept,
like psych, either raw item responses (a DataFrame, correlated pairwise-complete) or a
correlation matrix with its number of observations. This module decides which one it was
given and returns the correlation matrix, the number of respondents and, for raw data, the
number of respondents behind each correlation (psych's ``np.obs``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rctscale.errors import AnalysisError
from rctscale.psychometrics._checks import as_item_frame, check_correlation_matrix
from rctscale.psychometrics.correlation import pearson, polychoric

CORRELATION_TYPES = ("pearson", "polychoric")


@dataclass(frozen=True)
class CorrelationInput:
    """A checked correlation matrix and what is known about the data behind it."""

    matrix: pd.DataFrame
    n_obs: int | None
    pair_counts: np.ndarray | None  # respondents behind each correlation; None for matrix input
    items: pd.DataFrame | None  # the raw responses, when given


def looks_like_correlation_matrix(data: pd.DataFrame | np.ndarray) -> bool:
    """True when ``data`` is square, symmetric, with a unit diagonal (psych's ``isCorrelation``)."""
    try:
        values = np.asarray(
            data.to_numpy(dtype=float, na_value=np.nan) if isinstance(data, pd.DataFrame) else data,
            dtype=float,
        )
    except (TypeError, ValueError):  # text in the table: responses to be checked item by item
        return False
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] < 2:
        return False
    if not np.all(np.isfinite(values)):
        return False
    if isinstance(data, pd.DataFrame) and [str(i) for i in data.index] != [str(c) for c in data.columns]:
        # a square table of responses whose rows are respondents is not a correlation matrix
        if not isinstance(data.index, pd.RangeIndex):
            return False
    return bool(np.allclose(values, values.T, atol=1e-8) and np.allclose(np.diag(values), 1.0, atol=1e-6))


def pair_counts(frame: pd.DataFrame) -> np.ndarray:
    """Number of respondents answering both items of each pair (psych's ``pairwiseCount``)."""
    answered = frame.notna().to_numpy(dtype=float)
    return answered.T @ answered


def correlation_input(
    data: pd.DataFrame | np.ndarray,
    *,
    corr: str = "pearson",
    n_obs: int | None = None,
    min_items: int = 2,
) -> CorrelationInput:
    """Return the correlation matrix of ``data`` (raw responses or a correlation matrix)."""
    if corr not in CORRELATION_TYPES:
        raise AnalysisError(
            f"unknown correlation type '{corr}'; choose one of {', '.join(CORRELATION_TYPES)}"
        )
    if n_obs is not None and (int(n_obs) != n_obs or n_obs < 2):
        raise AnalysisError(f"n_obs must be a whole number of respondents of at least 2, got {n_obs!r}")
    if looks_like_correlation_matrix(data):
        matrix = check_correlation_matrix(data)
        matrix = matrix.set_axis([str(c) for c in matrix.columns], axis=0).set_axis(
            [str(c) for c in matrix.columns], axis=1
        )
        return CorrelationInput(
            matrix=matrix, n_obs=None if n_obs is None else int(n_obs), pair_counts=None, items=None
        )
    items = as_item_frame(data, min_items=min_items)
    matrix = pearson(items) if corr == "pearson" else polychoric(items)
    matrix = pd.DataFrame(np.asarray(matrix, dtype=float), index=items.columns, columns=items.columns)
    counts = pair_counts(items)
    if np.any(counts < 2):
        i, j = np.argwhere(counts < 2)[0]
        raise AnalysisError(
            f"items '{items.columns[i]}' and '{items.columns[j]}' have fewer than two "
            "respondents in common, so their correlation is undefined"
        )
    matrix = check_correlation_matrix(matrix)
    rows = len(items) if n_obs is None else int(n_obs)
    return CorrelationInput(matrix=matrix, n_obs=rows, pair_counts=counts, items=items)
