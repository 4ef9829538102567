"""Psychometrics: pure numerics on DataFrames and arrays.

This package imports numpy, scipy and pandas only (and rctscale.errors): never the web,
the store or the reports.
"""
