"""Errors a user can cause.

Every subclass of :class:`RctscaleError` carries a message that says what is wrong, where
(file, line, row, column or item) and what to do. The command line prints the message and
exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class RctscaleError(Exception):
    """Base class of the errors a user can cause and fix."""


class BankError(RctscaleError):
    """An item bank, response scale or form file is malformed."""


class DataError(RctscaleError):
    """Response data do not fit the form (bad value, unknown column, duplicate id...)."""


class ScoringError(RctscaleError):
    """Scores cannot be computed as asked (missing norms, bad reliability...)."""


class AnalysisError(RctscaleError):
    """A statistic cannot be computed on these data (singular matrix, constant item...)."""


class ModelError(RctscaleError):
    """A model is malformed, names unknown variables or is not identified."""


class PlanError(RctscaleError):
    """An analysis plan (``analysis/*.yaml``) is malformed or does not fit its form or data."""


class ConvergenceError(AnalysisError):
    """An iterative fit did not converge."""


class CalibrationError(RctscaleError):
    """An item calibration is malformed, missing, or belongs to another version of its bank."""
