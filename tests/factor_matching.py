"""Align one factor solution with another before comparing them.

Factor order and sign are arbitrary: two programs may return the same solution with columns
permuted or reflected. ``match_factors`` finds the permutation of ``loadings``' columns that
maximizes the total absolute Tucker congruence with ``target``'s, and reflects each column to
make its congruence positive.
"""

from __future__ import annotations

import itertools

import numpy as np


def congruence(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Tucker's congruence coefficients between the columns of ``a`` and of ``b``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return (a.T @ b) / np.sqrt(np.outer(np.sum(a**2, axis=0), np.sum(b**2, axis=0)))


def match_factors(loadings, target, phi=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``loadings`` (and ``phi``) with columns permuted and reflected to match ``target``."""
    loadings, target = np.asarray(loadings, dtype=float), np.asarray(target, dtype=float)
    if loadings.ndim == 1:
        loadings, target = loadings[:, None], target[:, None]
    k = loadings.shape[1]
    assert target.shape == loadings.shape, f"shapes differ: {loadings.shape} vs {target.shape}"
    coefficients = congruence(loadings, target)
    order = max(
        itertools.permutations(range(k)),
        key=lambda perm: sum(abs(coefficients[perm[j], j]) for j in range(k)),
    )
    order = list(order)
    signs = np.sign(coefficients[order, range(k)])
    signs[signs == 0] = 1.0
    matched = loadings[:, order] * signs
    matched_phi = None
    if phi is not None:
        phi = np.asarray(phi, dtype=float)
        matched_phi = phi[np.ix_(order, order)] * np.outer(signs, signs)
    return matched, matched_phi
