"""The R reference outputs and the data they were computed on (tests/reference/)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
HS_ITEMS = [f"x{i}" for i in range(1, 10)]


@cache
def load_json(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


@cache
def hs_items() -> pd.DataFrame:
    """Holzinger & Swineford (1939): the nine test scores x1..x9."""
    return pd.read_csv(REFERENCE / "hs1939.csv")[HS_ITEMS]


@cache
def likert_items() -> pd.DataFrame:
    """The simulated 5-point Likert sample: 18 items c1..s6, with a few missing answers."""
    return pd.read_csv(REFERENCE / "likert1500.csv").drop(columns="group")
