"""The runnable examples in the docstrings stay true (pingouin's rule: every statistic shows one)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rctscale.psychometrics

MODULES = sorted(
    {f"rctscale.psychometrics.{m.name}" for m in pkgutil.iter_modules(rctscale.psychometrics.__path__)
     if not m.name.startswith("_") and not m.ispkg}
    | {"rctscale.scoring", "rctscale.simulate", "rctscale"}
)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {module_name}"
