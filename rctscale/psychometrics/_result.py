"""The common behaviour of result objects: readable summary, dict and JSON conversion."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd


def to_plain(value: Any) -> Any:
    """Convert numpy, pandas and dataclass values to JSON-ready Python values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, pd.DataFrame):
        return {str(k): to_plain(v) for k, v in value.to_dict(orient="index").items()}
    if isinstance(value, pd.Series):
        return {str(k): to_plain(v) for k, v in value.to_dict().items()}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_plain(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else number
    if isinstance(value, np.bool_):
        return bool(value)
    return value


class Result:
    """Mixin for frozen result dataclasses: ``to_dict()`` and a readable ``str()``."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    def __str__(self) -> str:
        lines = [type(self).__name__]
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if isinstance(value, pd.DataFrame):
                lines.append(f"{field.name}:")
                lines.append(value.round(3).to_string())
            elif isinstance(value, float):
                lines.append(f"{field.name}: {value:.4f}")
            else:
                lines.append(f"{field.name}: {value}")
        return "\n".join(lines)
