"""Item banks, response scales and forms: the model, YAML loading, validation, content hashes.

Imports nothing else of the project but :mod:`rctscale.errors`.
"""

from rctscale.bank.calibration import (
    CalibratedItem,
    CalibratedScale,
    Calibration,
    calibration_dir,
    calibration_path,
    load_calibration,
    load_calibrations,
    read_calibration,
)
from rctscale.bank.load import (
    bank_paths,
    content_hash,
    default_items_dir,
    form_paths,
    load_bank,
    load_form,
    load_scales,
    validate_items_dir,
)
from rctscale.bank.model import Bank, Facet, Form, Item, ResponseOption, ResponseScale, Scale, fill_referent

__all__ = [
    "CalibratedItem", "CalibratedScale", "Calibration", "calibration_dir", "calibration_path", "load_calibration",
    "load_calibrations", "read_calibration",
    "Bank", "Facet", "Form", "Item", "ResponseOption", "ResponseScale", "Scale", "bank_paths", "content_hash",
    "default_items_dir", "fill_referent", "form_paths", "load_bank", "load_form", "load_scales",
    "validate_items_dir",
]
