"""Sample statistics for ordinal indicators, as lavaan computes them for WLSMV (muthen1984).

Per group, with the items coded 0..K_i-1 (categories pooled over groups, after listwise
deletion), lavaan's two-stage estimates and their asymptotic covariance matrix:

1. thresholds (lav_uvord): the univariate probit ML estimates without covariates are closed
   form, tau_ik = Phi^-1(P(y_i <= k)) for k = 1..K_i-1;
2. polychoric correlations (lav_bvord): for every pair, rho maximises the bivariate
   log-likelihood sum_rc n_rc log pi_rc(rho) with the thresholds fixed at step 1, where
   pi_rc = Phi2(t_r, u_c) - Phi2(t_{r-1}, u_c) - Phi2(t_r, u_{c-1}) + Phi2(t_{r-1}, u_{c-1})
   (cells floored at sqrt(eps) as lavaan; 2 x 2 tables get lavaan's zero-cell and closed-form
   special cases). All pairs are solved at once by a safeguarded Newton iteration;
3. Gamma, the asymptotic covariance matrix of s = (thresholds, vech(R) without diagonal), from
   the casewise scores (Muthen 1984; Muthen, du Toit & Spisic 1997). With SC = [SC_th | SC_rho]
   the N x (nth + p*) scores of the univariate and the bivariate log-likelihoods::

       INNER = SC' SC,   A11 = blockdiag_i INNER[th_i, th_i],   A22 = diag(INNER[rho, rho]),
       A21[ij, th_i] = sum_n sc_rho_ij(n) * d log pi_ij(n) / d tau_i      (likewise th_j),
       B^-1 = [[A11^-1, 0], [-A22^-1 A21 A11^-1, A22^-1]],
       Gamma = N * B^-1 INNER B^-T                                         (lavaan's NACOV)

   and DWLS weights W = diag(Gamma)^-1 (lavaan's WLS.VD).

The vector order is lavaan's WLS.obs: the thresholds item by item, then the correlations in
lavaan's vech order without diagonal (column by column of the lower triangle).

References: Muthen, B. (1984). A general structural equation model with dichotomous, ordered
categorical and continuous latent variable indicators. Psychometrika 49, 115-132. Olsson, U.
(1979). Maximum likelihood estimation of the polychoric correlation coefficient. Psychometrika
44, 443-460. Genz, A. (2004). Numerical computation of rectangular bivariate and trivariate
normal and t probabilities. Statistics and Computing 14, 251-260. Rosseel, Y. (2012), lavaan,
R/lav_samplestats_step1.R, lav_samplestats_step2.R, lav_uvord.R, lav_bvord.R, lav_muthen1984.R.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from rctscale.errors import AnalysisError

# lavaan floors cell probabilities at sqrt(machine epsilon) and drops cells below it from scores
CELL_FLOOR = float(np.sqrt(np.finfo(float).eps))
# lavaan's bounds for the polychoric correlation (nlminb lower / upper)
RHO_BOUND = 0.999
# lavaan's stand-in for an infinite threshold in the score functions (o1 / o2 in lav_uvord)
INFINITE_THRESHOLD = 100.0
# Newton iterations for the polychorics stop when |d logl / d rho| / N is below this
RHO_GRADIENT_TOLERANCE = 1e-13
MAX_RHO_ITERATIONS = 200
# step halvings before a pair's Newton iteration gives up
MAX_HALVINGS = 30
# largest Newton step in rho: a trust region that keeps the iteration out of the flat tails
MAX_RHO_STEP = 0.1
# lavaan warns about polychoric correlations beyond this
NEAR_ONE = 0.99
# lavaan's zero.add for 2 x 2 tables with one empty cell
ZERO_ADD_2X2 = 0.5
# rows per chunk when accumulating the score cross-products (bounds memory for large N)
SCORE_CHUNK = 4096

# Gauss-Legendre rules on [-1, 1] (the positive half of the nodes and their weights) with 6, 12 and 20
# points, as in Genz (2004): |r| < 0.3 needs 6, |r| < 0.75 12, larger |r| 20 for double precision
_GL = {
    6: (np.array([0.9324695142031522, 0.6612093864662647, 0.2386191860831970]),
        np.array([0.1713244923791705, 0.3607615730481384, 0.4679139345726904])),
    12: (np.array([0.9815606342467191, 0.9041172563704750, 0.7699026741943050, 0.5873179542866171,
                   0.3678314989981802, 0.1252334085114692]),
         np.array([0.04717533638651177, 0.1069393259953183, 0.1600783285433464, 0.2031674267230659,
                   0.2334925365383547, 0.2491470458134029])),
    20: (np.array([0.9931285991850949, 0.9639719272779138, 0.9122344282513259, 0.8391169718222188,
                   0.7463319064601508, 0.6360536807265150, 0.5108670019508271, 0.3737060887154196,
                   0.2277858511416451, 0.07652652113349733]),
         np.array([0.01761400713915212, 0.04060142980038694, 0.06267204833410906, 0.08327674157670475,
                   0.1019301198172404, 0.1181945319615184, 0.1316886384491766, 0.1420961093183821,
                   0.1491729864726037, 0.1527533871307259])),
}
# Genz's x = [1 - x, 1 + x] on [0, 2] and the weights repeated
_RULES = {n: (np.concatenate([1.0 - x, 1.0 + x]), np.concatenate([w, w])) for n, (x, w) in _GL.items()}
_NODES, _WEIGHTS = _RULES[20]
_TWO_PI = 2.0 * np.pi


# ----------------------------------------------------------------------------- bivariate normal


def _bvn_upper(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Genz's BVNU: P(X > h, Y > k) for finite h, k and |r| < 1 (1-D arrays of equal length).

    |r| < 0.925: Gauss-Legendre quadrature (6, 12 or 20 points by |r|) of Plackett's formula in
    theta = arcsin(r), P = Phi(-h) Phi(-k) + 1/(2 pi) int_0^asin(r) exp(-(h^2 + k^2 - 2 hk sin t) / (2 cos^2 t)) dt;
    |r| >= 0.925: Drezner & Wesolowsky's expansion around |r| = 1 with a quadrature correction.
    """
    out = np.empty(h.shape)
    size = np.abs(r)
    moderate = size < 0.925
    for points, low, high in ((6, 0.0, 0.3), (12, 0.3, 0.75), (20, 0.75, 0.925)):
        sel = (size >= low) & (size < high)
        if not sel.any():
            continue
        nodes, weights = _RULES[points]
        hm, km, rm = h[sel], k[sel], r[sel]
        hk, hs = hm * km, (hm * hm + km * km) / 2.0
        asr = np.arcsin(rm) / 2.0
        sn = np.sin(asr[:, None] * nodes[None, :])
        integral = np.exp((sn * hk[:, None] - hs[:, None]) / (1.0 - sn * sn)) @ weights
        out[sel] = integral * asr / _TWO_PI + ndtr(-hm) * ndtr(-km)
    strong = ~moderate
    if strong.any():
        hs_, ks_, rs_ = h[strong], k[strong], r[strong]
        ks_ = np.where(rs_ < 0, -ks_, ks_)
        hk = hs_ * ks_
        bvn = np.zeros(hs_.shape)
        below_one = np.abs(rs_) < 1.0
        if below_one.any():
            hb, kb, hkb, rb = hs_[below_one], ks_[below_one], hk[below_one], rs_[below_one]
            a_sq = (1.0 - rb) * (1.0 + rb)
            a = np.sqrt(a_sq)
            b_sq = (hb - kb) ** 2
            c = (4.0 - hkb) / 8.0
            d = (12.0 - hkb) / 80.0
            asr = -(b_sq / a_sq + hkb) / 2.0
            value = np.where(asr > -100.0,
                             a * np.exp(asr) * (1.0 - c * (b_sq - a_sq) * (1.0 - d * b_sq) / 3.0
                                                + c * d * a_sq * a_sq), 0.0)
            b = np.sqrt(b_sq)
            tail = np.exp(-hkb / 2.0) * np.sqrt(_TWO_PI) * ndtr(-b / a) * b * (1.0 - c * b_sq * (1.0 - d * b_sq) / 3.0)
            value = value - np.where(hkb > -100.0, tail, 0.0)
            half = a / 2.0
            xs = (half[:, None] * _NODES[None, :]) ** 2
            asr_x = -(b_sq[:, None] / xs + hkb[:, None]) / 2.0
            sp = 1.0 + c[:, None] * xs * (1.0 + 5.0 * d[:, None] * xs)
            rs = np.sqrt(1.0 - xs)
            ep = np.exp(-(hkb[:, None] / 2.0) * xs / (1.0 + rs) ** 2) / rs
            terms = np.where(asr_x > -100.0, np.exp(asr_x) * (sp - ep), 0.0)
            bvn[below_one] = (half * (terms @ _WEIGHTS) - value) / _TWO_PI
        positive = rs_ > 0
        between = np.where(hs_ < 0, ndtr(ks_) - ndtr(hs_), ndtr(-hs_) - ndtr(-ks_))
        out[strong] = np.where(positive, bvn + ndtr(-np.maximum(hs_, ks_)),
                               np.where(hs_ >= ks_, -bvn, between - bvn))
    return np.clip(out, 0.0, 1.0)


def bivariate_normal_cdf(h: np.ndarray | float, k: np.ndarray | float, rho: np.ndarray | float) -> np.ndarray:
    """Phi2(h, k; rho) = P(X <= h, Y <= k) for a standard bivariate normal, vectorised.

    Infinite limits are allowed (Phi2(inf, k) = Phi(k), Phi2(-inf, k) = 0); finite ones use
    Genz's (2004) algorithm with a 20-point Gauss-Legendre rule, accurate to about 1e-15.
    """
    hh, kk, rr = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (h, k, rho)))
    out = np.zeros(hh.shape)
    h_inf, k_inf = np.isposinf(hh), np.isposinf(kk)
    negative = np.isneginf(hh) | np.isneginf(kk)
    out[h_inf & k_inf] = 1.0
    sel = h_inf & ~k_inf & ~negative
    out[sel] = ndtr(kk[sel])
    sel = k_inf & ~h_inf & ~negative
    out[sel] = ndtr(hh[sel])
    finite = np.isfinite(hh) & np.isfinite(kk)
    if finite.any():
        out[finite] = _bvn_upper(-hh[finite], -kk[finite], rr[finite])
    return out


def bivariate_normal_pdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """phi2(h, k; rho) = exp(-(h^2 - 2 rho h k + k^2) / (2 (1 - rho^2))) / (2 pi sqrt(1 - rho^2)); 0 at infinity."""
    hh, kk, rr = np.broadcast_arrays(h, k, rho)
    out = np.zeros(hh.shape)
    finite = np.isfinite(hh) & np.isfinite(kk)
    hf, kf, rf = hh[finite], kk[finite], rr[finite]
    one_minus = 1.0 - rf * rf
    out[finite] = np.exp(-(hf * hf - 2.0 * rf * hf * kf + kf * kf) / (2.0 * one_minus)) / (
        _TWO_PI * np.sqrt(one_minus))
    return out


def _guv(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """(d phi2 / d rho) / phi2 = (hk (1-r^2) - r (h^2 - 2 r h k + k^2) + r (1-r^2)) / (1-r^2)^2 (lavaan's guv)."""
    one_minus = 1.0 - rho * rho
    with np.errstate(invalid="ignore"):
        value = (h * k * one_minus - rho * (h * h - 2.0 * rho * h * k + k * k) + rho * one_minus) / one_minus**2
    return np.where(np.isfinite(h) & np.isfinite(k), value, 0.0)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class OrdinalGroupStats:
    """Ordinal sample statistics of one group (lavaan's th, cov, NACOV, WLS.obs, WLS.VD)."""

    n: int
    thresholds: np.ndarray  # (nth,) item by item
    threshold_item: np.ndarray  # (nth,) item index of each threshold
    correlations: np.ndarray  # (p, p) polychoric correlation matrix
    gamma: np.ndarray  # (nth + p*, nth + p*) asymptotic covariance of wls_obs (lavaan's NACOV)
    counts: np.ndarray = field(repr=False)  # (p, K_max) category counts
    empty_cell_pairs: tuple[tuple[str, str], ...] = ()

    @cached_property
    def wls_obs(self) -> np.ndarray:
        """s = (thresholds, lower-triangle correlations in lavaan's vech order)."""
        rows, cols = lower_pairs(self.correlations.shape[0])
        return np.concatenate([self.thresholds, self.correlations[rows, cols]])

    @cached_property
    def wls_vd(self) -> np.ndarray:
        """The DWLS weights, 1 / diag(Gamma) (lavaan's WLS.VD)."""
        return 1.0 / np.diag(self.gamma)


@dataclass(frozen=True)
class OrdinalSampleStats:
    """Ordinal sample statistics of every group, with the item categories they rest on."""

    variables: tuple[str, ...]
    group_labels: tuple[str, ...]
    groups: tuple[OrdinalGroupStats, ...]
    categories: tuple[np.ndarray, ...]  # the observed values of each item, sorted (pooled over groups)

    @property
    def ntotal(self) -> int:
        return int(sum(g.n for g in self.groups))

    @property
    def weights(self) -> np.ndarray:
        """N_g / N."""
        counts = np.array([g.n for g in self.groups], dtype=float)
        return counts / counts.sum()

    @property
    def n_thresholds(self) -> np.ndarray:
        return np.array([len(c) - 1 for c in self.categories])


def lower_pairs(p: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of the strict lower triangle in lavaan's vech order (column by column)."""
    cols, rows = np.triu_indices(p, k=1)  # row-major upper triangle = column-major lower triangle
    return rows, cols


# ----------------------------------------------------------------------------- step 1: thresholds


def _padded_thresholds(thresholds: list[np.ndarray], k_max: int, infinity: float) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) limits of every category (p, k_max): upper_c = tau_c, lower_c = tau_{c-1}.

    The first lower and the last upper limit are -infinity / +infinity (``infinity``); the
    padding categories beyond an item's K sit at +infinity (zero probability).
    """
    p = len(thresholds)
    cuts = np.full((p, k_max + 1), infinity)
    cuts[:, 0] = -infinity
    for i, tau in enumerate(thresholds):
        cuts[i, 1:len(tau) + 1] = tau
    return cuts[:, 1:], cuts[:, :-1]


def _npdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(_TWO_PI)


def _univariate_scores(thresholds: np.ndarray) -> np.ndarray:
    """Score table of lavaan's lav_uvord_scores: row c = d log pi_c / d tau_k for category c.

    d log pi_c / d tau_k = (1[k = c] phi(tau_c) - 1[k = c - 1] phi(tau_{c-1})) / pi_c.
    """
    n_th = len(thresholds)
    upper = np.append(thresholds, INFINITE_THRESHOLD)
    lower = np.insert(thresholds, 0, -INFINITE_THRESHOLD)
    prob = ndtr(upper) - ndtr(lower)
    large = lower > 1.0  # lavaan's upper-tail form for accuracy
    prob[large] = ndtr(-lower[large]) - ndtr(-upper[large])
    table = np.zeros((n_th + 1, n_th))
    c = np.arange(n_th)
    table[c, c] = _npdf(thresholds) / prob[c]
    table[c + 1, c] = -_npdf(thresholds) / prob[c + 1]
    return table


# ----------------------------------------------------------------------------- step 2: polychorics


@dataclass
class _Pairs:
    """Bookkeeping for all item pairs (a, b) with a > b in lavaan's vech order."""

    a: np.ndarray
    b: np.ndarray
    upper_a: np.ndarray  # (P, K) category limits of item a (+-inf)
    lower_a: np.ndarray
    upper_b: np.ndarray
    lower_b: np.ndarray

    def subset(self, index: np.ndarray) -> _Pairs:
        return _Pairs(self.a[index], self.b[index], self.upper_a[index], self.lower_a[index], self.upper_b[index],
                      self.lower_b[index])

    def _grid(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cut points of every pair as (P, K+1, K+1) arrays h, k and rho."""
        grid_a = np.concatenate([self.lower_a[:, :1], self.upper_a], axis=1)
        grid_b = np.concatenate([self.lower_b[:, :1], self.upper_b], axis=1)
        h = np.broadcast_to(grid_a[:, :, None], (len(rho), grid_a.shape[1], grid_b.shape[1]))
        k = np.broadcast_to(grid_b[:, None, :], h.shape)
        return h, k, np.broadcast_to(rho[:, None, None], h.shape)

    def probabilities(self, rho: np.ndarray) -> np.ndarray:
        """Cell probabilities pi_rc(rho), (P, K, K)."""
        return _cell_mass(bivariate_normal_cdf(*self._grid(rho)))

    def slopes(self, rho: np.ndarray, *, second: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """d pi_rc / d rho (from phi2 at the cut points) and optionally d2 pi_rc / d rho2."""
        h, k, r = self._grid(rho)
        density = bivariate_normal_pdf(h, k, r)
        return _cell_mass(density), (_cell_mass(density * _guv(h, k, r)) if second else None)


def _cell_mass(grid: np.ndarray) -> np.ndarray:
    return grid[:, 1:, 1:] - grid[:, :-1, 1:] - grid[:, 1:, :-1] + grid[:, :-1, :-1]


def _loglik(freq: np.ndarray, prob: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.sum(np.where(freq > 0, freq * np.log(np.maximum(prob, CELL_FLOOR)), 0.0), axis=(1, 2))


def _special_2x2(freq: np.ndarray, tau_a: np.ndarray, tau_b: np.ndarray, names: tuple[str, str]
                 ) -> tuple[np.ndarray, float | None]:
    """lavaan's handling of 2 x 2 tables (lav_bvord_cor_twostep_fit, zero.add = c(0.5, 0)).

    One empty cell: add 0.5 to it and the opposite diagonal, subtract 0.5 from the others (the
    margins stay); odds ratio 1: rho = 0; both thresholds 0: rho = -cos(2 pi n_11 / N).
    """
    freq = freq.astype(float).copy()
    zeros = np.argwhere(freq == 0)
    if len(zeros) >= 2:
        raise AnalysisError(
            f"items '{names[0]}' and '{names[1]}' are binary and perfectly associated (two empty cells in "
            "their 2 x 2 table); their polychoric correlation is +-1 and the model cannot be fitted. Drop one"
        )
    if len(zeros) == 1:
        r, c = zeros[0]
        sign = 1.0 if r == c else -1.0
        freq += sign * ZERO_ADD_2X2 * np.array([[1.0, -1.0], [-1.0, 1.0]])
    if freq[0, 0] * freq[1, 1] == freq[0, 1] * freq[1, 0]:
        return freq, 0.0
    if tau_a[0] == 0.0 and tau_b[0] == 0.0:
        return freq, float(-np.cos(2.0 * np.pi * freq[0, 0] / freq.sum()))
    return freq, None


def _polychorics(freq: np.ndarray, pairs: _Pairs, start: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Maximise every pair's bivariate log-likelihood in rho at once (Newton, steps at most 0.1, halved
    until the log-likelihood does not decrease).

    d logl / d rho = sum n_rc pi'_rc / pi_rc and d2 = sum n_rc (pi''_rc / pi_rc - (pi'_rc / pi_rc)^2),
    over the cells with pi_rc > sqrt(eps) (lavaan's gradient and Hessian). Pairs whose rho is set
    by a closed form (``fixed`` not NaN) are left alone.
    """
    n = freq.sum(axis=(1, 2))
    rho = np.where(np.isnan(fixed), np.clip(start, -RHO_BOUND, RHO_BOUND), fixed)
    active = np.isnan(fixed)
    prob = pairs.probabilities(rho)
    for _ in range(MAX_RHO_ITERATIONS):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        sub = pairs.subset(idx)
        f, current = freq[idx], prob[idx]
        first, second = sub.slopes(rho[idx], second=True)
        ok = (current > CELL_FLOOR) & (f > 0)
        safe = np.where(ok, current, 1.0)
        ratio = np.where(ok, first / safe, 0.0)
        gradient = np.sum(f * ratio, axis=(1, 2))
        hessian = np.sum(np.where(ok, f * (second / safe - ratio * ratio), 0.0), axis=(1, 2))
        value = _loglik(f, current)
        # a zero gradient counts only where the log-likelihood is concave: where every cell that
        # separates the models is floored, it is flat, and Newton must not stop there
        done = (np.abs(gradient) / n[idx] < RHO_GRADIENT_TOLERANCE) & (hessian < 0)
        done |= (np.abs(rho[idx]) >= RHO_BOUND) & (gradient * np.sign(rho[idx]) >= 0)  # optimum on the bound
        fallback = np.where(gradient != 0, np.sign(gradient), -np.sign(rho[idx])) * MAX_RHO_STEP / 2
        step = np.where(hessian < 0, -gradient / np.where(hessian < 0, hessian, -1.0), fallback)
        step = np.where(done, 0.0, np.clip(step, -MAX_RHO_STEP, MAX_RHO_STEP))
        # halve the steps that decrease the log-likelihood (vectorised backtracking)
        fraction = np.ones(len(idx))
        for _ in range(MAX_HALVINGS):
            trial = np.clip(rho[idx] + fraction * step, -RHO_BOUND, RHO_BOUND)
            trial_prob = sub.probabilities(trial)
            worse = _loglik(f, trial_prob) < value - 1e-12 * np.abs(value)
            if not worse.any():
                break
            fraction = np.where(worse, fraction / 2.0, fraction)
        trial = np.where(worse, rho[idx], trial)  # no increase found: stay (and stop)
        trial_prob = np.where(worse[:, None, None], current, trial_prob)
        moved = np.abs(trial - rho[idx])
        rho[idx], prob[idx] = trial, trial_prob
        active[idx[done | (moved < 1e-15)]] = False
    return rho


# ----------------------------------------------------------------------------- step 3: Gamma


def _group_stats(codes: np.ndarray, n_categories: np.ndarray, names: tuple[str, ...], label: str
                 ) -> OrdinalGroupStats:
    n, p = codes.shape
    k_max = int(n_categories.max())
    counts = np.zeros((p, k_max))
    for i in range(p):
        counts[i, :n_categories[i]] = np.bincount(codes[:, i], minlength=n_categories[i])
        empty = np.flatnonzero(counts[i, :n_categories[i]] == 0)
        if empty.size:
            raise AnalysisError(
                f"item '{names[i]}' has no answers in category {int(empty[0]) + 1} of {n_categories[i]} in group "
                f"'{label}' (frequencies {counts[i, :n_categories[i]].astype(int).tolist()}); thresholds cannot be "
                "estimated (lavaan refuses this too). Merge that category with a neighbour"
            )
    thresholds = [ndtri(np.cumsum(counts[i, :n_categories[i] - 1]) / n) for i in range(p)]
    n_th = n_categories - 1
    th_start = np.concatenate([[0], np.cumsum(n_th)[:-1]])
    threshold_item = np.repeat(np.arange(p), n_th)

    a, b = lower_pairs(p)
    upper, lower = _padded_thresholds(thresholds, k_max, np.inf)
    pairs = _Pairs(a, b, upper[a], lower[a], upper[b], lower[b])
    n_pairs = len(a)
    cell_index = (np.arange(n_pairs) * k_max * k_max) + codes[:, a] * k_max + codes[:, b]  # (n, P)
    freq = np.bincount(cell_index.ravel(), minlength=n_pairs * k_max * k_max).astype(float)
    freq = freq.reshape(n_pairs, k_max, k_max)

    # lavaan's start: the Pearson correlation of the codes; 2 x 2 tables' special cases
    centred = codes - codes.mean(axis=0)
    sd = np.sqrt((centred**2).sum(axis=0))
    start = ((centred.T @ centred) / np.outer(sd, sd))[a, b]
    fit_freq = freq.copy()
    fixed = np.full(n_pairs, np.nan)
    binary = np.flatnonzero((n_categories[a] == 2) & (n_categories[b] == 2))
    for m in binary:
        table, closed = _special_2x2(freq[m, :2, :2], thresholds[a[m]], thresholds[b[m]], (names[a[m]], names[b[m]]))
        fit_freq[m, :2, :2] = table
        if closed is not None:
            fixed[m] = closed
    rho = _polychorics(fit_freq, pairs, start, fixed)
    for m in np.flatnonzero(np.abs(rho) > NEAR_ONE):
        warnings.warn(f"the polychoric correlation of '{names[a[m]]}' and '{names[b[m]]}' is {rho[m]:.4f} "
                      "(nearly 1); the fit may be unstable", stacklevel=4)
    correlations = np.eye(p)
    correlations[a, b] = correlations[b, a] = rho
    real_cells = (np.arange(k_max)[None, :, None] < n_categories[a][:, None, None]) & (
        np.arange(k_max)[None, None, :] < n_categories[b][:, None, None])
    empty_pairs = tuple((names[a[m]], names[b[m]]) for m in np.flatnonzero(((freq == 0) & real_cells).any(axis=(1, 2))))

    gamma = _gamma(codes, thresholds, th_start, n_th, pairs, rho, freq, k_max)
    return OrdinalGroupStats(n=n, thresholds=np.concatenate(thresholds), threshold_item=threshold_item,
                             correlations=correlations, gamma=gamma, counts=counts, empty_cell_pairs=empty_pairs)


def _gamma(codes: np.ndarray, thresholds: list[np.ndarray], th_start: np.ndarray, n_th: np.ndarray,
           pairs: _Pairs, rho: np.ndarray, freq: np.ndarray, k_max: int) -> np.ndarray:
    """lavaan's muthen1984 NACOV from the casewise scores (see the module docstring)."""
    n, p = codes.shape
    total_th = int(n_th.sum())
    n_pairs = len(rho)
    a, b = pairs.a, pairs.b

    # scores of the bivariate likelihoods, per cell (lav_bvord_cor_scores), with lavaan's +-100 limits
    upper, lower = _padded_thresholds(thresholds, k_max, INFINITE_THRESHOLD)
    prob = np.maximum(pairs.probabilities(rho), CELL_FLOOR)
    first, _ = pairs.slopes(rho)  # lavaan floors PI, then drops cells at the floor from the scores
    usable = prob > CELL_FLOOR
    lik = np.where(usable, prob, 1.0)
    rho_score = np.where(usable, first / lik, 0.0)  # (P, K, K)
    root = np.sqrt(1.0 - rho * rho)[:, None, None]
    r3 = rho[:, None, None]
    ua, la = upper[a][:, :, None], lower[a][:, :, None]  # item a limits along rows
    ub, lb = upper[b][:, None, :], lower[b][:, None, :]  # item b limits along columns
    z1a = _npdf(ua) * (ndtr((ub - r3 * ua) / root) - ndtr((lb - r3 * ua) / root))
    z2a = _npdf(la) * (ndtr((ub - r3 * la) / root) - ndtr((lb - r3 * la) / root))
    z1b = _npdf(ub) * (ndtr((ua - r3 * ub) / root) - ndtr((la - r3 * ub) / root))
    z2b = _npdf(lb) * (ndtr((ua - r3 * lb) / root) - ndtr((la - r3 * lb) / root))
    z1a, z2a, z1b, z2b = (np.where(usable, z / lik, 0.0) for z in (z1a, z2a, z1b, z2b))

    # A21: sum over cells of n_rc * rho_score * d log pi / d tau (rows for item a, columns for item b)
    weighted = freq * rho_score
    m1a, m2a = (weighted * z1a).sum(axis=2), (weighted * z2a).sum(axis=2)  # (P, K) by row category
    m1b, m2b = (weighted * z1b).sum(axis=1), (weighted * z2b).sum(axis=1)  # (P, K) by column category
    a21 = np.zeros((n_pairs, total_th))
    kk = np.arange(k_max - 1)
    for item_side, m1, m2 in ((a, m1a, m2a), (b, m1b, m2b)):
        valid = kk[None, :] < n_th[item_side][:, None]
        value = m1[:, :-1] - m2[:, 1:]  # 1[k = r] Z1 - 1[k = r - 1] Z2, summed
        rows, ks = np.nonzero(valid)
        a21[rows, th_start[item_side][rows] + ks] = value[rows, ks]

    # INNER = SC' SC, accumulated over row chunks
    uni_tables = [_univariate_scores(t) for t in thresholds]
    size = total_th + n_pairs
    inner = np.zeros((size, size))
    flat_scores = rho_score.reshape(n_pairs, -1)
    for begin in range(0, n, SCORE_CHUNK):
        chunk = codes[begin:begin + SCORE_CHUNK]
        sc = np.empty((len(chunk), size))
        for i in range(p):
            sc[:, th_start[i]:th_start[i] + n_th[i]] = uni_tables[i][chunk[:, i]]
        cell = chunk[:, a] * k_max + chunk[:, b]
        sc[:, total_th:] = flat_scores[np.arange(n_pairs)[None, :], cell]
        inner += sc.T @ sc

    a11_inv = np.zeros((total_th, total_th))
    for i in range(p):
        block = slice(th_start[i], th_start[i] + n_th[i])
        a11_inv[block, block] = np.linalg.inv(inner[block, block])
    a22 = np.diag(inner)[total_th:]
    if np.any(a22 <= 0):
        raise AnalysisError("the polychoric score variance is zero for some item pair; Gamma cannot be computed")
    b_inv = np.zeros((size, size))
    b_inv[:total_th, :total_th] = a11_inv
    b_inv[total_th:, :total_th] = -(a21 / a22[:, None]) @ a11_inv
    b_inv[total_th:, total_th:] = np.diag(1.0 / a22)
    gamma = n * (b_inv @ inner @ b_inv.T)
    return (gamma + gamma.T) / 2.0


# ----------------------------------------------------------------------------- entry point


def item_categories(frames: list[pd.DataFrame]) -> tuple[np.ndarray, ...]:
    """The observed values of every item pooled over the groups (lavaan's ordered() levels).

    Raises naming the item when it has fewer than two observed categories.
    """
    pooled = pd.concat(frames)
    categories = []
    for name in pooled.columns:
        values = np.unique(pooled[name].to_numpy(dtype=float))
        if len(values) < 2:
            raise AnalysisError(
                f"ordinal item '{name}' has {len(values)} observed categor{'y' if len(values) == 1 else 'ies'} "
                f"({', '.join(f'{v:g}' for v in values)}); it needs at least 2 for a threshold. Drop it from the model"
            )
        categories.append(values)
    return tuple(categories)


def ordinal_sample_stats(frames: list[pd.DataFrame], labels: list[str],
                         categories: tuple[np.ndarray, ...] | None = None) -> OrdinalSampleStats:
    """Thresholds, polychoric correlations and Gamma of each group's complete-case frame.

    The columns are the model's ordinal items in model order; categories are the values observed
    anywhere (pooled over groups, as lavaan's ordered() levels; :func:`item_categories`, computed
    here unless given), coded 0..K-1 in sorted order.
    """
    if categories is None:
        categories = item_categories(frames)
    n_categories = np.array([len(c) for c in categories])
    names = tuple(map(str, frames[0].columns))
    groups = []
    for frame, label in zip(frames, labels, strict=True):
        values = frame.to_numpy(dtype=float)
        codes = np.column_stack([np.searchsorted(categories[i], values[:, i]) for i in range(values.shape[1])])
        groups.append(_group_stats(codes.astype(np.intp), n_categories, names, label))
    return OrdinalSampleStats(variables=names, group_labels=tuple(labels), groups=tuple(groups),
                              categories=categories)
