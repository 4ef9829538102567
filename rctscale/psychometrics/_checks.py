"""Input checks shared by the statistics: turn user data into clean numeric frames.

Each check raises an :class:`~rctscale.errors.AnalysisError` that names the item and says
what to do, so no statistic returns a silently wrong number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rctscale.errors import AnalysisError


def as_item_frame(
    items: pd.DataFrame | np.ndarray, *, min_items: int = 2, allow_constant: bool = False
) -> pd.DataFrame:
    """Return ``items`` as a float DataFrame labelled by item id.

    Raises when a column is not numeric, when an item is constant (unless
    ``allow_constant``: a rater who gives every target the same score is still data for an
    ICC) or entirely missing, or when there are fewer than ``min_items`` items.
    """
    if isinstance(items, np.ndarray):
        if items.ndim != 2:
            raise AnalysisError(f"expected a 2-D table of item responses, got {items.ndim} dimension(s)")
        frame = pd.DataFrame(items, columns=[f"item{j + 1}" for j in range(items.shape[1])])
    elif isinstance(items, pd.DataFrame):
        frame = items
    else:
        raise AnalysisError(f"expected a DataFrame or 2-D array of item responses, got {type(items).__name__}")
    if frame.shape[1] < min_items:
        raise AnalysisError(f"needs at least {min_items} items, got {frame.shape[1]}")
    if all(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype) for dtype in frame.dtypes):
        # the common case: one conversion of the whole block instead of one per column
        values = frame.to_numpy(dtype=float, na_value=np.nan)
        frame = pd.DataFrame(values, index=frame.index, columns=[str(c) for c in frame.columns])
    else:
        frame = _numeric_columns(frame)
        values = frame.to_numpy()
    answered = ~np.isnan(values)
    empty = ~answered.any(axis=0)
    if empty.any():
        name = frame.columns[int(np.argmax(empty))]
        raise AnalysisError(f"item '{name}' has no answers; drop it before the analysis")
    if not allow_constant:
        with np.errstate(invalid="ignore"):
            constant = np.nanmin(values, axis=0) == np.nanmax(values, axis=0)
        if constant.any():
            j = int(np.argmax(constant))
            raise AnalysisError(
                f"item '{frame.columns[j]}' is constant (every answer is {np.nanmin(values[:, j]):g}); it carries no "
                "information about differences between respondents: drop it before the analysis"
            )
    return frame


def _numeric_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert text columns to numbers, naming the first cell that is not a number."""
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            converted = pd.to_numeric(column, errors="coerce")
            bad = column.notna() & converted.isna()
            if bad.any():
                row = bad.to_numpy().nonzero()[0][0]
                raise AnalysisError(
                    f"item '{name}' is not numeric (row {row + 1} holds {column.iloc[row]!r}); "
                    "pass only item columns, or read the data with rctscale.read_responses"
                )
            column = converted
        columns[str(name)] = column.astype(float)
    return pd.DataFrame(columns, index=frame.index)


def complete_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Listwise deletion: keep the rows with every item answered."""
    return frame.dropna(axis=0, how="any")


def check_correlation_matrix(matrix: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    """Check a correlation matrix: square, symmetric, unit diagonal, finite."""
    frame = (
        matrix
        if isinstance(matrix, pd.DataFrame)
        else pd.DataFrame(matrix, index=[f"item{j + 1}" for j in range(len(matrix))],
                          columns=[f"item{j + 1}" for j in range(len(matrix))])
    )
    values = frame.to_numpy(dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise AnalysisError(f"a correlation matrix must be square, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise AnalysisError("the correlation matrix holds missing or infinite values: "
                            "an item pair may have no respondent in common")
    if not np.allclose(values, values.T, atol=1e-8):
        raise AnalysisError("the correlation matrix is not symmetric")
    if not np.allclose(np.diag(values), 1.0, atol=1e-6):
        raise AnalysisError("the correlation matrix does not have ones on its diagonal; "
                            "pass a correlation matrix, not a covariance matrix")
    return frame.astype(float)


def check_positive_definite(matrix: np.ndarray, what: str = "the correlation matrix") -> None:
    """Raise when ``matrix`` is singular or not positive definite, naming the likely cause."""
    eigenvalues = np.linalg.eigvalsh(matrix)
    if eigenvalues.min() <= 1e-10 * max(1.0, eigenvalues.max()):
        raise AnalysisError(
            f"{what} is singular or not positive definite (smallest eigenvalue "
            f"{eigenvalues.min():.3g}): an item may be a copy or a sum of others, or there are "
            "fewer respondents than items; drop redundant items or collect more data"
        )
