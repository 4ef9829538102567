"""Psychometrics: pure numerics on DataFrames and arrays.

This package imports numpy, scipy and pandas only (and rctscale.errors): never the web,
the store or the reports. Every statistic is checked against R's psych or lavaan in
``tests/conformance/``.

>>> from rctscale import psychometrics as pm
"""

from rctscale.psychometrics._threads import on_one_blas_thread
from rctscale.psychometrics.cat import CATRules, CATSession, CATState, simulate_cat
from rctscale.psychometrics.correlation import pearson, polychoric, polyserial
from rctscale.psychometrics.dimensionality import bartlett, eigenvalues, kmo, parallel_analysis, velicer_map
from rctscale.psychometrics.efa import efa
from rctscale.psychometrics.irt import (
    eap_scores,
    expected_score,
    graded_response_model,
    item_information,
    test_information,
)
from rctscale.psychometrics.omega import omega
from rctscale.psychometrics.reliability import (
    alpha,
    alpha_if_item_dropped,
    guttman_lambda6,
    icc,
    item_rest_correlation,
    ordinal_alpha,
    split_half,
)
from rctscale.psychometrics.rotation import rotate
from rctscale.psychometrics.sem import cfa, invariance

# Every statistic runs on one BLAS thread (see _threads.py for why).
(alpha, alpha_if_item_dropped, bartlett, cfa, eap_scores, efa, eigenvalues, graded_response_model, guttman_lambda6,
 icc, invariance, item_rest_correlation, kmo, omega, ordinal_alpha, parallel_analysis, pearson, polychoric,
 polyserial, split_half, velicer_map, simulate_cat) = (
    on_one_blas_thread(f) for f in (
        alpha, alpha_if_item_dropped, bartlett, cfa, eap_scores, efa, eigenvalues, graded_response_model,
        guttman_lambda6, icc, invariance, item_rest_correlation, kmo, omega, ordinal_alpha, parallel_analysis,
        pearson, polychoric, polyserial, split_half, velicer_map, simulate_cat))

__all__ = [
    "CATRules", "CATSession", "CATState", "eap_scores", "expected_score", "graded_response_model",
    "item_information", "simulate_cat", "test_information",
    "alpha", "alpha_if_item_dropped", "bartlett", "cfa", "efa", "eigenvalues", "guttman_lambda6", "icc",
    "invariance", "item_rest_correlation", "kmo", "omega", "ordinal_alpha", "parallel_analysis", "pearson",
    "polychoric", "polyserial", "rotate", "split_half", "velicer_map",
]
