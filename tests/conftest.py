"""Shared fixtures: the tiny test item directory and the shipped banks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rctscale as rs

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture()
def mini_items(tmp_path: Path) -> Path:
    """A writable copy of tests/fixtures/items (one small bank, one form)."""
    target = tmp_path / "items"
    shutil.copytree(FIXTURES / "items", target)
    return target


@pytest.fixture()
def mini_form(mini_items: Path) -> rs.Form:
    return rs.load_form("mini", items_dir=mini_items)


@pytest.fixture()
def shipped_items_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped items directory, to break in tests."""
    target = tmp_path / "shipped"
    shutil.copytree(rs.bank.default_items_dir(), target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target
