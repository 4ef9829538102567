"""Sample statistics per group (lavaan's lavsamplestats): N, means, covariances with divisor N.

With complete data an ML fit needs only these; with missing data (FIML) the rows are grouped
into missingness patterns, each with its own count, mean vector and covariance matrix of the
observed variables, so the casewise likelihood is evaluated once per pattern, not per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rctscale.errors import AnalysisError


@dataclass(frozen=True)
class MissingPattern:
    """Rows sharing one set of observed variables."""

    observed: np.ndarray  # bool mask over the model's observed variables
    n: int
    mean: np.ndarray  # of the observed variables
    cov: np.ndarray  # divisor n


@dataclass(frozen=True)
class GroupStats:
    n: int
    mean: np.ndarray
    cov: np.ndarray  # divisor n (lavaan's likelihood = "normal")
    patterns: tuple[MissingPattern, ...] = ()

    @property
    def has_missing(self) -> bool:
        return bool(self.patterns) and not (len(self.patterns) == 1 and self.patterns[0].observed.all())


@dataclass(frozen=True)
class SampleStats:
    variables: tuple[str, ...]
    group_labels: tuple[str, ...]
    groups: tuple[GroupStats, ...]

    @property
    def ntotal(self) -> int:
        return int(sum(g.n for g in self.groups))

    @property
    def weights(self) -> np.ndarray:
        """N_g / N: how lavaan weights the groups' discrepancy functions."""
        counts = np.array([g.n for g in self.groups], dtype=float)
        return counts / counts.sum()


def _patterns(values: np.ndarray) -> tuple[MissingPattern, ...]:
    observed = ~np.isnan(values)
    keys, inverse = np.unique(observed, axis=0, return_inverse=True)
    patterns = []
    for index, key in enumerate(keys):
        rows = values[inverse.ravel() == index][:, key]
        mean = rows.mean(axis=0)
        centred = rows - mean
        patterns.append(MissingPattern(observed=key.copy(), n=len(rows), mean=mean,
                                       cov=centred.T @ centred / len(rows)))
    return tuple(patterns)


def sample_stats(frames: list[pd.DataFrame], labels: list[str], *, missing_patterns: bool = False
                 ) -> SampleStats:
    """Statistics of each group's frame (columns = the model's observed variables, in order).

    With ``missing_patterns`` the rows may hold NaN; mean and cov are then the available-case
    starting values only, and the patterns carry the information the FIML estimator uses.
    """
    groups = []
    for frame, label in zip(frames, labels, strict=True):
        values = frame.to_numpy(dtype=float)
        _check_enough_rows(values, frame, label)
        if missing_patterns:
            mean = np.nanmean(values, axis=0)
            cov = pd.DataFrame(values).cov(ddof=0).to_numpy()
            groups.append(GroupStats(n=len(values), mean=mean, cov=cov, patterns=_patterns(values)))
        else:
            mean = values.mean(axis=0)
            centred = values - mean
            groups.append(GroupStats(n=len(values), mean=mean, cov=centred.T @ centred / len(values)))
    return SampleStats(variables=tuple(frames[0].columns), group_labels=tuple(labels), groups=tuple(groups))


def _check_enough_rows(values: np.ndarray, frame: pd.DataFrame, label: str) -> None:
    """Refuse data whose covariance matrix is singular: the ML discrepancy is undefined there.

    With fewer respondents than variables (often after listwise deletion of incomplete rows)
    or with an item that is a copy or a sum of others, log|S| is minus infinity and any
    chi-square would be a silently wrong number.
    """
    where = f" in group '{label}'" if label else ""
    n_rows, n_variables = values.shape
    if n_rows <= n_variables:
        raise AnalysisError(
            f"{n_rows} usable respondents{where} for {n_variables} observed variables: the sample covariance "
            "matrix is singular. With missing answers, listwise deletion may have dropped most rows: use "
            "missing='fiml', fewer items per model, or more respondents"
        )
    complete = values[~np.isnan(values).any(axis=1)]
    if len(complete) > n_variables:
        eigenvalues = np.linalg.eigvalsh(np.cov(complete, rowvar=False))
        if eigenvalues.min() <= 1e-10 * max(eigenvalues.max(), 1e-300):
            raise AnalysisError(
                f"the sample covariance matrix{where} is singular: an item is constant or a copy or sum of others "
                f"(variables: {', '.join(map(str, frame.columns[:10]))}{' ...' if frame.shape[1] > 10 else ''}); "
                "drop the redundant item"
            )
