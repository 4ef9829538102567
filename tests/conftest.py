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


# Respondents simulated to calibrate the shipped banks in tests: enough for stable parameters,
# few enough to fit the three banks in seconds.
CALIBRATION_SAMPLE_N = 500


@pytest.fixture(scope="session")
def research_calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with calibrations of the shipped banks fitted to a simulated research sample.

    Written to a temporary directory only: rctscale ships no calibration (none from real data
    exists yet), and these files say they come from simulated data.
    """
    from rctscale.calibrate import calibrate, write_calibrations

    form = rs.load_form("research")
    run = calibrate(form, rs.simulate(form, n=CALIBRATION_SAMPLE_N, seed=20), data="simulated research sample",
                    source="simulated")
    directory = tmp_path_factory.mktemp("calibration")
    write_calibrations(run.calibrations, directory)
    return directory
