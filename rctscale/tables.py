"""Write result tables to CSV, TSV or XLSX, atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rctscale.errors import RctscaleError
from rctscale.files import write_atomically


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` by the file's suffix; the file appears complete or not at all."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        return write_atomically(target, lambda tmp: frame.to_csv(tmp, index=False))
    if suffix in (".tsv", ".tab"):
        return write_atomically(target, lambda tmp: frame.to_csv(tmp, sep="\t", index=False))
    if suffix == ".xlsx":
        return write_atomically(target, lambda tmp: frame.to_excel(tmp, index=False, engine="openpyxl"))
    raise RctscaleError(f"{target}: cannot write '{suffix}' files; use .csv, .tsv or .xlsx")
