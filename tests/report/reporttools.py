"""Helpers of the report tests: the small intake study, Chromium settings, where artifacts go.

The study is kept small (300 respondents, 18 items, 50 bootstrap draws) so the whole run stays
short; one item is replaced by random answers so that the review rules have something to find.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import rctscale as rs

ROOT = Path(__file__).resolve().parents[2]
# skip_or_fail (skip locally, fail under CI=true) is the web tests' helper; reuse it, do not copy it.
sys.path.insert(0, str(ROOT / "tests" / "web"))
from webtools import skip_or_fail  # noqa: E402

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "INTAKE_PLAN", "NOISE_ITEM", "ROOT", "Study", "skip_or_fail",
           "line_of", "write_intake_sample"]

CHROMIUM = os.environ.get("RCTSCALE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
NOISE_ITEM = "mut31"  # answered at random in the fixture sample: a bad item the review must find

INTAKE_PLAN = """\
plan: intake_test
title: Intake form, test study
data: intake-sample.csv
form: intake
group: group
missing:
  statistics: pairwise
  cfa: listwise
efa:
  n_factors: parallel
  rotation: oblimin
parallel_analysis:
  iterations: 10
cfa:
  model: from_form
  estimator: ML
invariance: true
irt: true
bootstrap: 50
seed: 5
"""


@dataclass(frozen=True)
class Study:
    directory: Path
    data: Path
    plan: Path


def write_intake_sample(path: Path, *, n: int = 300, seed: int = 11) -> None:
    form = rs.load_form("intake")
    data = rs.simulate(form, n=n, seed=seed, groups={"community": rs.GroupSpec(), "clinic": rs.GroupSpec()},
                       missing_rate=0.01)
    rng = np.random.default_rng(seed)
    answered = data[NOISE_ITEM].notna()
    data.loc[answered, NOISE_ITEM] = rng.integers(1, 6, size=int(answered.sum()))
    data.to_csv(path, index=False)


def line_of(text: str, fragment: str) -> int:
    """1-based line of the first line containing ``fragment``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in the plan")
