"""rctscale: survey instruments and psychometrics for relational-cultural theory.

>>> import rctscale as rs
>>> form = rs.load_form("intake")
>>> df = rs.simulate(form, n=100, seed=1)
>>> scores = rs.score(form, df)
"""

from rctscale.bank import Bank, Form, Item, load_bank, load_form, validate_items_dir
from rctscale.data import read_responses
from rctscale.errors import RctscaleError
from rctscale.scoring import build_norms, load_norms, reliable_change, reliable_change_index, score
from rctscale.simulate import GroupSpec, simulate, simulate_factor_model

__version__ = "0.1.0"

__all__ = [
    "Bank", "Form", "GroupSpec", "Item", "RctscaleError", "build_norms", "load_bank", "load_form",
    "load_norms", "read_responses", "reliable_change", "reliable_change_index", "score", "simulate",
    "simulate_factor_model", "validate_items_dir", "__version__",
]
