"""Factor rotations: varimax, promax, oblimin / quartimin and geomin.

The oblique and the geomin rotations use the gradient projection algorithm of Bernaards &
Jennrich (2005), a line-by-line port of GPArotation's ``GPForth`` (orthogonal) and
``GPFoblq`` (oblique). Varimax follows ``stats::varimax`` (Kaiser normalization, the
singular-value iteration) and promax follows ``psych::fa(rotate="promax")``, which is
``psych::kaiser(..., rotate="Promax")``: rows normalized, varimax, then the promax target.
Each function takes a loading matrix (items x factors) and returns a :class:`RotationResult`
whose ``loadings = unrotated @ rotation`` and whose ``phi`` holds the factor correlations.

Unlike ``psych::fa``, these functions neither flip signs nor reorder factors: that is the
job of :func:`rctscale.psychometrics.efa`, which does it exactly as ``psych::fa`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rctscale.errors import AnalysisError
from rctscale.psychometrics._result import Result

__all__ = [
    "ROTATIONS",
    "RotationResult",
    "geomin",
    "oblimin",
    "promax",
    "quartimin",
    "rotate",
    "varimax",
]

# A criterion returns its value f(L) and its gradient dQ/dL at the loadings L.
Criterion = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class RotationResult(Result):
    """A rotated loading matrix.

    Attributes
    ----------
    loadings : DataFrame
        Rotated loadings (pattern matrix for oblique rotations), items x factors.
    rotation : DataFrame
        The matrix ``T`` with ``loadings = unrotated @ T`` (psych's ``rot.mat``).
    phi : DataFrame
        Factor correlations; the identity for orthogonal rotations.
    method : str
        The rotation criterion.
    orthogonal : bool
        Whether the factors stay uncorrelated.
    converged : bool
        Whether the iteration met its convergence criterion.
    iterations : int
        Iterations used.
    criterion : float
        Value of the rotation criterion at the solution (NaN for promax).
    """

    loadings: pd.DataFrame
    rotation: pd.DataFrame
    phi: pd.DataFrame
    method: str
    orthogonal: bool
    converged: bool
    iterations: int
    criterion: float


def _as_loading_array(loadings: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
    if isinstance(loadings, pd.DataFrame):
        values = loadings.to_numpy(dtype=float)
        rows, columns = [str(i) for i in loadings.index], [str(c) for c in loadings.columns]
    else:
        values = np.asarray(loadings, dtype=float)
        if values.ndim == 1:
            values = values[:, None]
        rows = [f"item{i + 1}" for i in range(values.shape[0])]
        columns = [f"F{j + 1}" for j in range(values.shape[1])]
    if values.ndim != 2:
        raise AnalysisError(f"a loading matrix must be 2-D (items x factors), got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise AnalysisError("the loading matrix holds missing or infinite values")
    return values, rows, columns


def _result(
    rotated: np.ndarray,
    rotation: np.ndarray,
    phi: np.ndarray,
    rows: list[str],
    columns: list[str],
    *,
    method: str,
    orthogonal: bool,
    converged: bool,
    iterations: int,
    criterion: float,
) -> RotationResult:
    return RotationResult(
        loadings=pd.DataFrame(rotated, index=rows, columns=columns),
        rotation=pd.DataFrame(rotation, index=columns, columns=columns),
        phi=pd.DataFrame(phi, index=columns, columns=columns),
        method=method,
        orthogonal=orthogonal,
        converged=converged,
        iterations=iterations,
        criterion=criterion,
    )


def _unrotated(values: np.ndarray, rows: list[str], columns: list[str], method: str) -> RotationResult:
    # One factor cannot be rotated: GPArotation refuses, psych::fa skips the rotation.
    k = values.shape[1]
    return _result(
        values.copy(),
        np.eye(k),
        np.eye(k),
        rows,
        columns,
        method=method,
        orthogonal=True,
        converged=True,
        iterations=0,
        criterion=float("nan"),
    )


# --- rotation criteria (GPArotation's vgQ.* functions) ---


def _oblimin_criterion(gamma: float) -> Criterion:
    def criterion(loadings: np.ndarray) -> tuple[float, np.ndarray]:
        n_items, n_factors = loadings.shape
        squared = loadings**2
        off_diagonal = 1.0 - np.eye(n_factors)
        cross = squared @ off_diagonal
        if gamma != 0:
            # (I - gamma/p 11') centres the cross products over items (covarimin when gamma = 1)
            cross = cross - gamma * cross.mean(axis=0, keepdims=True)
        return float(np.sum(squared * cross) / 4.0), loadings * cross

    return criterion


def _geomin_criterion(delta: float) -> Criterion:
    def criterion(loadings: np.ndarray) -> tuple[float, np.ndarray]:
        n_factors = loadings.shape[1]
        shifted = loadings**2 + delta
        row_geometric_mean = np.exp(np.log(shifted).sum(axis=1) / n_factors)
        gradient = (2.0 / n_factors) * (loadings / shifted) * row_geometric_mean[:, None]
        return float(row_geometric_mean.sum()), gradient

    return criterion


# --- gradient projection algorithms (GPArotation's GPForth and GPFoblq) ---


def _row_norm_weights(values: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.sum(values**2, axis=1))
    if np.any(norms == 0):
        raise AnalysisError(
            "Kaiser normalization needs every item to load on some factor; "
            "an item has all loadings equal to zero"
        )
    return norms


def _gpf_orthogonal(
    values: np.ndarray, criterion: Criterion, normalize: bool, eps: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, bool, int, float]:
    weights = _row_norm_weights(values) if normalize else None
    a = values / weights[:, None] if weights is not None else values
    transform = np.eye(a.shape[1])
    step = 1.0
    rotated = a @ transform
    f, gq = criterion(rotated)
    gradient = a.T @ gq
    s = np.inf
    iterations = 0
    for iteration in range(max_iter + 1):
        iterations = iteration
        m = transform.T @ gradient
        projected = gradient - transform @ ((m + m.T) / 2.0)
        s = float(np.sqrt(np.sum(projected**2)))
        if s < eps:
            break
        step *= 2.0
        for _ in range(11):
            u, _, vt = np.linalg.svd(transform - step * projected)
            trial = u @ vt
            rotated = a @ trial
            f_trial, gq_trial = criterion(rotated)
            # Armijo rule: accept once the step lowers the criterion enough
            if f_trial < f - 0.5 * s**2 * step:
                break
            step /= 2.0
        transform = trial
        f = f_trial
        gradient = a.T @ gq_trial
    if weights is not None:
        rotated = rotated * weights[:, None]
    return rotated, transform, s < eps, iterations, f


def _gpf_oblique(
    values: np.ndarray, criterion: Criterion, normalize: bool, eps: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, bool, int, float]:
    weights = _row_norm_weights(values) if normalize else None
    a = values / weights[:, None] if weights is not None else values
    transform = np.eye(a.shape[1])
    step = 1.0
    rotated = a @ np.linalg.inv(transform).T
    f, gq = criterion(rotated)
    gradient = -(rotated.T @ gq @ np.linalg.inv(transform)).T
    s = np.inf
    iterations = 0
    for iteration in range(max_iter + 1):
        iterations = iteration
        # project the gradient onto the tangent space of matrices with unit-length columns
        projected = gradient - transform * np.sum(transform * gradient, axis=0)
        s = float(np.sqrt(np.sum(projected**2)))
        if s < eps:
            break
        step *= 2.0
        for _ in range(11):
            x = transform - step * projected
            trial = x / np.sqrt(np.sum(x**2, axis=0))
            trial_inverse = np.linalg.inv(trial)
            rotated = a @ trial_inverse.T
            f_trial, gq_trial = criterion(rotated)
            if f - f_trial > 0.5 * s**2 * step:
                break
            step /= 2.0
        transform = trial
        f = f_trial
        gradient = -(rotated.T @ gq_trial @ trial_inverse).T
    if weights is not None:
        rotated = rotated * weights[:, None]
    return rotated, transform, s < eps, iterations, f


def _oblique_result(
    values: np.ndarray,
    rows: list[str],
    columns: list[str],
    criterion: Criterion,
    method: str,
    normalize: bool,
    eps: float,
    max_iter: int,
) -> RotationResult:
    rotated, transform, converged, iterations, f = _gpf_oblique(values, criterion, normalize, eps, max_iter)
    # GPArotation's Th: loadings = A (Th')^-1 and Phi = Th' Th; psych's rot.mat is (Th^-1)'
    rotation = np.linalg.inv(transform).T
    phi = transform.T @ transform
    return _result(
        rotated,
        rotation,
        phi,
        rows,
        columns,
        method=method,
        orthogonal=False,
        converged=converged,
        iterations=iterations,
        criterion=f,
    )


# --- public rotations ---


def varimax(
    loadings: pd.DataFrame | np.ndarray, *, normalize: bool = True, eps: float = 1e-5, max_iter: int = 1000
) -> RotationResult:
    """Varimax rotation, as ``stats::varimax`` (what ``psych::fa(rotate="varimax")`` calls).

    Varimax (Kaiser, 1958) maximizes the variance of the squared loadings within each factor,

    .. math:: V(\\Lambda T) = \\sum_j \\Big[\\frac{1}{p}\\sum_i \\lambda_{ij}^4
              - \\Big(\\frac{1}{p}\\sum_i \\lambda_{ij}^2\\Big)^2\\Big],

    over orthogonal ``T``. With Kaiser normalization the rows are scaled to unit length
    before rotating and scaled back afterwards. The iteration is R's: ``B = A'(Z^3 - Z
    diag(1'Z^2)/p)``, ``T = UV'`` from the SVD of ``B``, until the sum of singular values
    grows by less than a relative ``eps``.

    Parameters
    ----------
    loadings : DataFrame or ndarray
        Unrotated loadings, items x factors.
    normalize : bool
        Kaiser normalization (R's default, and psych's).
    eps : float
        Relative convergence tolerance.
    max_iter : int
        Iterations allowed (R uses 1000).

    Returns
    -------
    RotationResult

    References
    ----------
    Kaiser, H. F. (1958). The varimax criterion for analytic rotation in factor analysis.
    *Psychometrika*, 23, 187-200.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.rotation import varimax
    >>> unrotated = np.array([[.7, .3], [.6, .4], [.7, .35], [.4, -.5], [.5, -.45], [.45, -.5]])
    >>> rotated = varimax(unrotated)
    >>> bool(np.allclose(rotated.loadings.to_numpy(), unrotated @ rotated.rotation.to_numpy()))
    True
    >>> rotated.phi.round(6).to_numpy().tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    values, rows, columns = _as_loading_array(loadings)
    if values.shape[1] < 2:
        return _unrotated(values, rows, columns, "varimax")
    weights = _row_norm_weights(values) if normalize else np.ones(values.shape[0])
    x = values / weights[:, None]
    n_items, n_factors = x.shape
    transform = np.eye(n_factors)
    total = 0.0
    converged = False
    iterations = 0
    for iteration in range(1, max_iter + 1):
        iterations = iteration
        z = x @ transform
        b = x.T @ (z**3 - z * (np.sum(z**2, axis=0) / n_items))
        u, singular, vt = np.linalg.svd(b)
        transform = u @ vt
        previous, total = total, float(np.sum(singular))
        if total < previous * (1.0 + eps):
            converged = True
            break
    rotated = (x @ transform) * weights[:, None]
    squared = rotated**2
    criterion = float(np.sum(np.mean(squared**2, axis=0) - np.mean(squared, axis=0) ** 2))
    return _result(
        rotated,
        transform,
        np.eye(n_factors),
        rows,
        columns,
        method="varimax",
        orthogonal=True,
        converged=converged,
        iterations=iterations,
        criterion=criterion,
    )


def promax(loadings: pd.DataFrame | np.ndarray, *, power: int = 4, normalize: bool = True) -> RotationResult:
    """Promax rotation, as ``psych::fa(rotate="promax")``.

    Promax (Hendrickson & White, 1964) starts from the varimax solution ``V``, raises it to a
    target ``P = V |V|^{m-1}`` (``m = power``), regresses the target on ``V`` (``U = (V'V)^{-1}
    V'P``), rescales ``U`` so the factors have unit variance (``U diag(diag((U'U)^{-1}))^{1/2}``)
    and returns ``V U`` with factor correlations ``Phi = U^{-1} U^{-1}'``. With
    ``normalize=True`` the rows are first scaled to unit length (Kaiser normalization), which is
    what ``psych::fa(rotate="promax")`` does through ``psych::kaiser``; ``normalize=False`` is
    ``psych::Promax`` (= ``stats::promax``, whose inner varimax normalizes anyway).

    Parameters
    ----------
    loadings : DataFrame or ndarray
        Unrotated loadings, items x factors.
    power : int
        The promax exponent ``m`` (psych and R use 4).
    normalize : bool
        Kaiser normalization of the rows before rotating.

    Returns
    -------
    RotationResult

    References
    ----------
    Hendrickson, A. E., & White, P. O. (1964). Promax: a quick method for rotation to oblique
    simple structure. *British Journal of Statistical Psychology*, 17, 65-70.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.rotation import promax
    >>> unrotated = np.array([[.7, .3], [.6, .4], [.7, .35], [.4, -.5], [.5, -.45], [.45, -.5]])
    >>> rotated = promax(unrotated)
    >>> round(float(rotated.phi.iloc[0, 1]), 4)  # R: psych::kaiser(x, rotate="Promax")$Phi
    -0.2583
    """
    values, rows, columns = _as_loading_array(loadings)
    if values.shape[1] < 2:
        return _unrotated(values, rows, columns, "promax")
    weights = _row_norm_weights(values) if normalize else np.ones(values.shape[0])
    vari = varimax(values / weights[:, None])
    v = vari.loadings.to_numpy()
    target = v * np.abs(v) ** (power - 1)
    u = np.linalg.lstsq(v, target, rcond=None)[0]
    try:
        scale = np.diag(np.linalg.inv(u.T @ u))
    except np.linalg.LinAlgError as error:
        raise AnalysisError(
            "promax failed: the factors are exactly uncorrelated and the target "
            "regression is singular; use varimax instead"
        ) from error
    u = u * np.sqrt(scale)
    rotated = (v @ u) * weights[:, None]
    rotation = vari.rotation.to_numpy() @ u
    inverse = np.linalg.inv(rotation)
    phi = inverse @ inverse.T
    return _result(
        rotated,
        rotation,
        phi,
        rows,
        columns,
        method="promax",
        orthogonal=False,
        converged=vari.converged,
        iterations=vari.iterations,
        criterion=float("nan"),
    )


def oblimin(
    loadings: pd.DataFrame | np.ndarray,
    *,
    gamma: float = 0.0,
    normalize: bool = False,
    eps: float = 1e-5,
    max_iter: int = 1000,
) -> RotationResult:
    """Direct oblimin rotation by gradient projection, as ``GPArotation::oblimin``.

    Minimizes (Jennrich, 2002; Bernaards & Jennrich, 2005)

    .. math:: Q(\\Lambda) = \\tfrac14 \\operatorname{tr}\\big[(\\Lambda\\circ\\Lambda)'
              (I - \\tfrac{\\gamma}{p}\\mathbf{1}\\mathbf{1}')(\\Lambda\\circ\\Lambda)
              (\\mathbf{1}\\mathbf{1}' - I)\\big]

    over oblique transformations ``Lambda = A (T')^{-1}`` with unit-length columns of ``T``;
    ``Phi = T'T``. ``gamma = 0`` is quartimin, which is what ``psych::fa(rotate="oblimin")``
    uses: psych calls ``GPArotation::oblimin`` with its defaults (``gam = 0``, no Kaiser
    normalization, ``eps = 1e-5``, at most 1000 iterations).

    Parameters
    ----------
    loadings : DataFrame or ndarray
        Unrotated loadings, items x factors.
    gamma : float
        Oblimin parameter (0 quartimin, 0.5 biquartimin, 1 covarimin).
    normalize : bool
        Kaiser normalization (psych does not normalize).
    eps : float
        Stop when the Frobenius norm of the projected gradient falls below ``eps``.
    max_iter : int
        Iterations allowed.

    Returns
    -------
    RotationResult

    References
    ----------
    Bernaards, C. A., & Jennrich, R. I. (2005). Gradient projection algorithms and software for
    arbitrary rotation criteria in factor analysis. *Educational and Psychological Measurement*,
    65, 676-696.

    Jennrich, R. I. (2002). A simple general method for oblique rotation. *Psychometrika*, 67, 7-19.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.rotation import oblimin
    >>> unrotated = np.array([[.7, .3], [.6, .4], [.7, .35], [.4, -.5], [.5, -.45], [.45, -.5]])
    >>> rotated = oblimin(unrotated)
    >>> rotated.converged
    True
    >>> bool(np.allclose(np.diag(rotated.phi), 1.0))
    True
    """
    values, rows, columns = _as_loading_array(loadings)
    if values.shape[1] < 2:
        return _unrotated(values, rows, columns, "oblimin")
    method = "quartimin" if gamma == 0 else f"oblimin(gamma={gamma:g})"
    return _oblique_result(values, rows, columns, _oblimin_criterion(gamma), method, normalize, eps, max_iter)


def quartimin(
    loadings: pd.DataFrame | np.ndarray, *, normalize: bool = False, eps: float = 1e-5, max_iter: int = 1000
) -> RotationResult:
    """Quartimin rotation (Carroll, 1953), as ``GPArotation::quartimin``: oblimin with gamma 0.

    .. math:: Q(\\Lambda) = \\tfrac14 \\sum_i \\sum_{j \\neq l} \\lambda_{ij}^2 \\lambda_{il}^2

    See :func:`oblimin` for the algorithm and the parameters.

    References
    ----------
    Carroll, J. B. (1953). An analytical solution for approximating simple structure in factor
    analysis. *Psychometrika*, 18, 23-38.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.rotation import oblimin, quartimin
    >>> unrotated = np.array([[.7, .3], [.6, .4], [.7, .35], [.4, -.5], [.5, -.45], [.45, -.5]])
    >>> bool(np.allclose(quartimin(unrotated).loadings, oblimin(unrotated).loadings))
    True
    """
    values, rows, columns = _as_loading_array(loadings)
    if values.shape[1] < 2:
        return _unrotated(values, rows, columns, "quartimin")
    return _oblique_result(
        values, rows, columns, _oblimin_criterion(0.0), "quartimin", normalize, eps, max_iter
    )


def geomin(
    loadings: pd.DataFrame | np.ndarray,
    *,
    delta: float = 0.01,
    orthogonal: bool = False,
    normalize: bool = False,
    eps: float = 1e-5,
    max_iter: int = 1000,
) -> RotationResult:
    """Geomin rotation (Yates, 1987), as ``GPArotation::geominQ`` (or ``geominT`` if orthogonal).

    Minimizes the sum over items of the geometric mean of the shifted squared loadings,

    .. math:: Q(\\Lambda) = \\sum_i \\Big[\\prod_j (\\lambda_{ij}^2 + \\delta)\\Big]^{1/k},

    by gradient projection; ``delta`` (0.01, GPArotation's default) keeps the criterion smooth
    where a loading is zero.

    Parameters
    ----------
    loadings : DataFrame or ndarray
        Unrotated loadings, items x factors.
    delta : float
        The shift added to the squared loadings.
    orthogonal : bool
        ``geominT`` (orthogonal) instead of ``geominQ`` (oblique).
    normalize : bool
        Kaiser normalization (psych does not normalize).
    eps, max_iter
        As in :func:`oblimin`.

    Returns
    -------
    RotationResult

    References
    ----------
    Yates, A. (1987). *Multivariate exploratory data analysis: A perspective on exploratory
    factor analysis.* Albany: State University of New York Press.

    Browne, M. W. (2001). An overview of analytic rotation in exploratory factor analysis.
    *Multivariate Behavioral Research*, 36, 111-150.

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.rotation import geomin
    >>> unrotated = np.array([[.7, .3], [.6, .4], [.7, .35], [.4, -.5], [.5, -.45], [.45, -.5]])
    >>> rotated = geomin(unrotated)
    >>> rotated.method, rotated.orthogonal
    ('geominQ', False)
    """
    values, rows, columns = _as_loading_array(loadings)
    name = "geominT" if orthogonal else "geominQ"
    if values.shape[1] < 2:
        return _unrotated(values, rows, columns, name)
    criterion = _geomin_criterion(delta)
    if not orthogonal:
        return _oblique_result(values, rows, columns, criterion, name, normalize, eps, max_iter)
    rotated, transform, converged, iterations, f = _gpf_orthogonal(
        values, criterion, normalize, eps, max_iter
    )
    return _result(
        rotated,
        transform,
        np.eye(values.shape[1]),
        rows,
        columns,
        method=name,
        orthogonal=True,
        converged=converged,
        iterations=iterations,
        criterion=f,
    )


def _no_rotation(loadings: pd.DataFrame | np.ndarray) -> RotationResult:
    values, rows, columns = _as_loading_array(loadings)
    return _unrotated(values, rows, columns, "none")


#: The rotations :func:`rotate` (and so :func:`rctscale.psychometrics.efa`) accepts, by name.
ROTATIONS: dict[str, Callable[..., RotationResult]] = {
    "none": _no_rotation,
    "varimax": varimax,
    "promax": promax,
    "oblimin": oblimin,
    "quartimin": quartimin,
    "geomin": geomin,
    "geominq": geomin,
    "geomint": lambda loadings, **kwargs: geomin(loadings, orthogonal=True, **kwargs),
}


def rotate(loadings: pd.DataFrame | np.ndarray, method: str = "oblimin", **options: float) -> RotationResult:
    """Rotate ``loadings`` by the named method (one of :data:`ROTATIONS`).

    Examples
    --------
    >>> import numpy as np
    >>> from rctscale.psychometrics.rotation import rotate
    >>> unrotated = np.array([[.7, .3], [.6, .4], [.7, .35], [.4, -.5], [.5, -.45], [.45, -.5]])
    >>> rotate(unrotated, "varimax").orthogonal
    True
    """
    key = method.lower()
    if key not in ROTATIONS:
        raise AnalysisError(f"unknown rotation '{method}'; choose one of {', '.join(sorted(ROTATIONS))}")
    return ROTATIONS[key](loadings, **options)
