"""McDonald's omega via the Schmid-Leiman transformation, as ``psych::omega``.

The steps and conventions follow psych 2.2.9 (``omega.R``: ``omegah``; ``schmid.R``):
factor the correlation matrix with a varimax rotation, rotate it obliquely, factor the
factor correlations for a general factor, transform to a bifactor (Schmid-Leiman) pattern,
and sum.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from rctscale.errors import AnalysisError
from rctscale.psychometrics._checks import check_positive_definite
from rctscale.psychometrics._corr_input import correlation_input
from rctscale.psychometrics._result import Result
from rctscale.psychometrics.efa import EXTRACTION_METHODS, _efa_from_correlation, _extract, smc
from rctscale.psychometrics.rotation import ROTATIONS, rotate

__all__ = ["OmegaResult", "omega"]

# psych's omega(n.iter > 1) reports a 1 - p = 95 % interval
_BOOTSTRAP_P = 0.05


@dataclass(frozen=True)
class OmegaResult(Result):
    """Omega coefficients of a scale.

    Attributes
    ----------
    omega_h : float
        Omega hierarchical: variance of the sum score due to the general factor.
    omega_total : float
        Omega total: variance of the sum score due to all common factors.
    alpha : float
        Cronbach's alpha of the (sign-flipped) items.
    omega_limit : float
        Omega asymptotic, ``omega_h / omega_total`` (psych's ``omega.lim``).
    g6 : float
        Guttman's lambda 6.
    ecv : float
        Explained common variance of the general factor.
    schmid : DataFrame
        Schmid-Leiman loadings: ``g``, the group factors ``F1*``..., ``h2``, ``u2``, ``p2``.
    group : DataFrame
        psych's ``omega.group``: omega total, general and group for the whole scale (``g``) and
        for the items dominated by each group factor.
    oblique : DataFrame
        Oblique (pattern) loadings the transformation started from.
    phi : DataFrame
        Correlations of the oblique factors.
    g_loadings : Series
        Loadings of the oblique factors on the general factor.
    ci : DataFrame or None
        Bootstrap 95 % intervals (rows omega_h, omega_total, alpha, g6, omega_limit) when
        ``n_boot`` was given.
    options : dict
        The options the analysis ran with.
    """

    omega_h: float
    omega_total: float
    alpha: float
    omega_limit: float
    g6: float
    ecv: float
    schmid: pd.DataFrame
    group: pd.DataFrame
    oblique: pd.DataFrame
    phi: pd.DataFrame
    g_loadings: pd.Series
    ci: pd.DataFrame | None = None
    options: dict[str, Any] = field(default_factory=dict)


def omega(
    items: pd.DataFrame | np.ndarray,
    n_factors: int = 3,
    fm: str = "minres",
    rotation: str = "oblimin",
    corr: str = "pearson",
    n_obs: int | None = None,
    n_boot: int = 0,
    seed: int | None = 0,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> OmegaResult:
    """McDonald's omega hierarchical and omega total, as ``psych::omega``.

    The correlation matrix ``R`` is factored (``fm``, varimax), the loadings are rotated
    obliquely (``rotation``; psych's default oblimin = quartimin, unnormalized), giving a
    pattern ``F`` and factor correlations ``Phi``. A general factor is extracted from ``Phi``:
    one ``fm`` factor when ``n_factors > 2``; with two factors, psych's ``option="equal"``
    loadings ``g = (sqrt|phi_12|, sign(phi_12) sqrt|phi_12|)``. The Schmid-Leiman
    transformation gives each item a general loading ``F g`` and group loadings
    ``F_ij sqrt(1 - g_j^2)``. Items with negative general loadings are reversed (psych's
    ``flip``). With ``V_t = 1'R1`` (the variance of the sum score) and ``u2_i = 1 - h2_i``,

    .. math:: \\omega_h = \\frac{(\\sum_i g_i)^2}{V_t},\\qquad
              \\omega_t = \\frac{V_t - \\sum_i u^2_i}{V_t},\\qquad
              \\alpha = \\frac{V_t - \\operatorname{tr} R}{V_t}\\,\\frac{p}{p-1}.

    With ``n_factors=1`` there is no transformation: ``omega_total`` is that of the
    one-factor solution (psych's ``omega(x, nfactors=1)$omega.tot``), and ``omega_h``, which
    psych reports too, equals ``(sum of loadings)^2 / V_t`` and carries no hierarchical meaning.

    With ``n_boot > 0``, respondents are resampled with replacement ``n_boot`` times (for a
    correlation matrix, multivariate normal data of ``n_obs`` rows are drawn, as psych does);
    the interval is psych's: mean +- 1.96 SD of the Fisher-z transformed replicates,
    transformed back (omega_limit on its raw scale).

    Parameters
    ----------
    items : DataFrame or ndarray
        Item responses (pairwise-complete correlations) or a correlation matrix.
    n_factors : int
        Number of group factors (psych's default 3).
    fm : {"minres", "ml", "pa"}
        Extraction method.
    rotation : str
        Oblique rotation: "oblimin", "quartimin", "geomin" or "promax".
    corr : {"pearson", "polychoric"}
        Correlation type for raw data.
    n_obs : int, optional
        Number of respondents behind a correlation matrix (needed for bootstrapping it).
    n_boot : int
        Bootstrap replicates (0: none).
    seed : int or None
        Seed of the bootstrap.
    progress : callable, optional
        Called as ``progress(done, n_boot)`` after each bootstrap replicate.

    Returns
    -------
    OmegaResult

    References
    ----------
    McDonald, R. P. (1999). *Test theory: A unified treatment.* Mahwah, NJ: Erlbaum.

    Schmid, J., & Leiman, J. M. (1957). The development of hierarchical factor solutions.
    *Psychometrika*, 22, 53-61.

    Zinbarg, R. E., Revelle, W., Yovel, I., & Li, W. (2005). Cronbach's alpha, Revelle's beta,
    and McDonald's omega_h. *Psychometrika*, 70, 123-133.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from rctscale.psychometrics.omega import omega
    >>> rng = np.random.default_rng(3)
    >>> general = rng.normal(size=(600, 1))
    >>> groups = rng.normal(size=(600, 3))
    >>> pattern = np.kron(np.eye(3), np.ones((3, 1))) * .5
    >>> items = pd.DataFrame(.6 * general + groups @ pattern.T + .6 * rng.normal(size=(600, 9)))
    >>> result = omega(items, n_factors=3)
    >>> bool(result.omega_h < result.omega_total)
    True
    """
    if isinstance(n_factors, bool) or int(n_factors) != n_factors or n_factors < 1:
        raise AnalysisError(f"n_factors must be a positive whole number, got {n_factors!r}")
    if fm not in EXTRACTION_METHODS:
        raise AnalysisError(
            f"unknown extraction method '{fm}'; choose one of {', '.join(EXTRACTION_METHODS)}"
        )
    key = rotation.lower()
    if key not in ROTATIONS or key in ("none", "varimax", "geomint"):
        raise AnalysisError(
            f"omega needs an oblique rotation, got '{rotation}'; use oblimin, quartimin, geomin or promax"
        )
    if int(n_boot) != n_boot or n_boot < 0:
        raise AnalysisError(f"n_boot must be a whole number of replicates, got {n_boot!r}")
    given = correlation_input(items, corr=corr, n_obs=n_obs, min_items=3)
    correlation = given.matrix.to_numpy()
    check_positive_definite(correlation)
    names = list(given.matrix.columns)
    p = len(names)
    if p * (p - 1) / 2 - p * n_factors + n_factors * (n_factors - 1) / 2 < 0:
        raise AnalysisError(f"{n_factors} factors are too many for {p} items; ask for fewer factors")
    parts = _omega_from_correlation(correlation, names, int(n_factors), fm, key, given.n_obs)
    ci = None
    if n_boot:
        ci = _bootstrap(given, int(n_factors), fm, key, corr, int(n_boot), seed, progress)
    options = {
        "n_factors": int(n_factors),
        "fm": fm,
        "rotation": key,
        "corr": corr,
        "n_obs": given.n_obs,
        "n_boot": int(n_boot),
        "seed": seed,
    }
    return OmegaResult(**parts, ci=ci, options=options)


def _omega_from_correlation(
    correlation: np.ndarray, names: list[str], n_factors: int, fm: str, rotation: str, n_obs: int | None
) -> dict[str, Any]:
    # psych::schmid: the varimax solution is the orthogonal starting point
    varimax_solution = _efa_from_correlation(
        correlation, names, n_factors, fm, "varimax", n_obs, None, "pearson"
    )
    orthogonal = varimax_solution.loadings.to_numpy()
    factor_names = [f"F{j + 1}" for j in range(n_factors)]
    if n_factors == 1:
        pattern, phi, g_loadings = orthogonal, np.eye(1), np.ones(1)
    else:
        # psych rotates with GPArotation directly: no re-signing or re-ordering here
        oblique = rotate(orthogonal, rotation)
        pattern, phi = oblique.loadings.to_numpy(), oblique.phi.to_numpy()
        if n_factors > 2:
            g_loadings = _extract(phi, 1, fm).loadings[:, 0]
            if g_loadings.sum() < 0:
                g_loadings = -g_loadings
        else:
            # two factors do not identify a general factor: psych's option="equal"
            root = np.sqrt(abs(phi[0, 1]))
            g_loadings = np.array([root, np.sign(phi[0, 1]) * root])
    general = pattern @ g_loadings
    diagonal = np.diag(correlation)
    h2 = np.sum(orthogonal**2, axis=1)
    u2 = diagonal - h2
    group = np.sign(pattern) * np.sqrt(np.clip(pattern**2 * (1.0 - g_loadings**2), 0.0, None))
    # psych's flip: reverse the items whose general loading is negative
    signs = np.where(np.sign(general) == 0, 1.0, np.sign(general))
    general, group = general * signs, group * signs[:, None]
    flipped = correlation * np.outer(signs, signs)
    total_variance = float(flipped.sum())
    item_variance = float(np.trace(flipped))
    general_squared = float(general.sum() ** 2)
    common = total_variance - float(u2.sum())
    p = len(names)
    squared = np.column_stack([general, group]) ** 2
    explained = squared.sum(axis=0)
    schmid = pd.DataFrame(
        np.column_stack([general, group, h2, u2, general**2 / h2]),
        index=names,
        columns=["g", *[f"{f}*" for f in factor_names], "h2", "u2", "p2"],
    )
    return {
        "omega_h": general_squared / total_variance,
        "omega_total": common / total_variance,
        "alpha": (total_variance - item_variance) / total_variance * p / (p - 1),
        "omega_limit": general_squared / common,
        "g6": (total_variance + float(smc(flipped).sum()) - item_variance) / total_variance,
        "ecv": float(explained[0] / explained.sum()),
        "schmid": schmid,
        "group": _group_omegas(flipped, general, group, factor_names, common / total_variance),
        "oblique": pd.DataFrame(pattern, index=names, columns=factor_names),
        "phi": pd.DataFrame(phi, index=factor_names, columns=factor_names),
        "g_loadings": pd.Series(g_loadings, index=factor_names, name="g"),
    }


def _group_omegas(
    correlation: np.ndarray,
    general: np.ndarray,
    group: np.ndarray,
    factor_names: list[str],
    omega_total: float,
) -> pd.DataFrame:
    """psych's ``omega.group``: omegas of the subscales each group factor dominates."""
    n_factors = group.shape[1]
    total = np.full(n_factors + 1, np.nan)
    general_part = np.full(n_factors + 1, np.nan)
    group_part = np.full(n_factors + 1, np.nan)
    dominant = np.argmax(np.abs(group), axis=1)
    group_squares = 0.0
    for j in range(n_factors):
        members = np.nonzero(dominant == j)[0]
        if members.size == 0:
            continue
        variance = float(correlation[np.ix_(members, members)].sum())
        group_sum = float(group[members, j].sum())
        general_sum = float(general[members].sum())
        group_squares += group_sum**2
        group_part[j + 1] = group_sum**2 / variance
        general_part[j + 1] = general_sum**2 / variance
        total[j + 1] = (group_sum**2 + general_sum**2) / variance
    total_variance = float(correlation.sum())
    total[0] = omega_total
    general_part[0] = float(general.sum() ** 2) / total_variance
    group_part[0] = group_squares / total_variance
    return pd.DataFrame(
        {"total": total, "general": general_part, "group": group_part},
        index=["g", *[f"{f}*" for f in factor_names]],
    )


def _bootstrap(
    given, n_factors: int, fm: str, rotation: str, corr: str, n_boot: int, seed: int | None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = list(given.matrix.columns)
    replicates = []
    failures = 0
    with warnings.catch_warnings():
        # improper replicates are expected now and then; they are counted, not reported one by one
        warnings.simplefilter("ignore")
        for done in range(n_boot):
            if progress is not None and done:
                progress(done, n_boot)
            if given.items is not None:
                rows = rng.integers(0, len(given.items), size=len(given.items))
                sample = correlation_input(
                    given.items.iloc[rows].reset_index(drop=True), corr=corr, min_items=3
                )
                matrix = sample.matrix.to_numpy()
            else:
                if given.n_obs is None:
                    raise AnalysisError("bootstrapping omega from a correlation matrix needs n_obs")
                values, vectors = np.linalg.eigh(given.matrix.to_numpy())
                draws = (
                    rng.standard_normal((given.n_obs, len(names)))
                    @ (vectors * np.sqrt(np.maximum(values, 0))).T
                )
                matrix = np.corrcoef(draws, rowvar=False)
            try:
                parts = _omega_from_correlation(matrix, names, n_factors, fm, rotation, None)
            except (AnalysisError, np.linalg.LinAlgError, ValueError):
                failures += 1
                continue
            replicates.append(
                [parts["omega_h"], parts["alpha"], parts["omega_total"], parts["g6"], parts["omega_limit"]]
            )
    if progress is not None:
        progress(n_boot, n_boot)
    if len(replicates) < 2:
        raise AnalysisError(
            f"the bootstrap failed: only {len(replicates)} of {n_boot} replicates could be "
            "computed; use more data or fewer factors"
        )
    if failures:
        warnings.warn(
            f"{failures} of {n_boot} bootstrap replicates could not be computed and were left out",
            RuntimeWarning,
            stacklevel=3,
        )
    values = np.asarray(replicates)
    transformed = np.column_stack([np.arctanh(np.clip(values[:, :4], -0.999999, 0.999999)), values[:, 4]])
    mean = transformed.mean(axis=0)
    sd = transformed.std(axis=0, ddof=1)
    z = stats.norm.ppf(1 - _BOOTSTRAP_P / 2)
    lower, upper = mean - z * sd, mean + z * sd
    lower[:4], upper[:4] = np.tanh(lower[:4]), np.tanh(upper[:4])
    return pd.DataFrame(
        {"lower": lower, "upper": upper, "mean": np.r_[np.tanh(mean[:4]), mean[4]], "sd": sd},
        index=["omega_h", "alpha", "omega_total", "g6", "omega_limit"],
    )
