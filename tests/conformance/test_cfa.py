"""CFA (ML) against lavaan on the reference data (tests/reference/, made by make_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rctscale.psychometrics.sem import cfa

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
# chi-square: 0.01 % relative (the brief's tolerance)
CHISQ_RELATIVE_TOLERANCE = 1e-4
# fit indices, loadings, standardized loadings: absolute
FIT_TOLERANCE = 1e-3
LOADING_TOLERANCE = 1e-3
# lavaan's fitMeasures() names -> ours
FIT_NAMES = {"rmsea.ci.lower": "rmsea_ci_lower", "rmsea.ci.upper": "rmsea_ci_upper", "ntotal": "n"}


def load(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


def check_fit(ours: dict, reference: dict) -> None:
    for lavaan_name, expected in reference.items():
        name = FIT_NAMES.get(lavaan_name, lavaan_name)
        if name == "chisq":
            assert ours[name] == pytest.approx(expected, rel=CHISQ_RELATIVE_TOLERANCE), name
        elif name in ("aic", "bic"):
            # information criteria are log-likelihood sums of size ~1e4: compare relatively
            assert ours[name] == pytest.approx(expected, rel=CHISQ_RELATIVE_TOLERANCE), name
        elif name in ("df", "n"):
            assert ours[name] == expected, name
        else:
            assert ours[name] == pytest.approx(expected, abs=FIT_TOLERANCE), name


def check_loadings(ours: pd.DataFrame, reference: dict) -> None:
    for factor, items in reference.items():
        for item, expected in items.items():
            assert ours.loc[item, factor] == pytest.approx(expected, abs=LOADING_TOLERANCE), (factor, item)


@pytest.fixture(scope="module")
def hs1939() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "hs1939.csv")


@pytest.fixture(scope="module")
def hs_fit(hs1939):
    return cfa(load("hs1939_reference.json")["model"], hs1939)


def test_hs1939_fit_measures(hs_fit):
    assert hs_fit.converged
    check_fit(hs_fit.fit, load("hs1939_reference.json")["cfa_ml"]["fit"])


def test_hs1939_loadings(hs_fit):
    reference = load("hs1939_reference.json")["cfa_ml"]
    check_loadings(hs_fit.loadings, reference["loadings"])
    check_loadings(hs_fit.std_loadings, reference["std_loadings"])


def test_likert1500_ml_listwise():
    reference = load("likert1500_reference.json")
    data = pd.read_csv(REFERENCE / "likert1500.csv")
    fit = cfa(reference["model"], data)
    assert fit.converged
    # lavaan's default missing="listwise" drops the 57 rows with a missing answer
    assert fit.fit["n"] == reference["cfa_ml"]["fit"]["ntotal"]
    check_fit(fit.fit, reference["cfa_ml"]["fit"])
    check_loadings(fit.std_loadings, reference["cfa_ml"]["std_loadings"])


# --- extra lavaan references from tests/reference/make_reference_sem.R ---
# standard errors and std.all: absolute (lavaan's own nlminb convergence leaves ~1e-6 noise)
SE_TOLERANCE = 1e-4
STD_TOLERANCE = 1e-3
# modification indices are chi-square values (size up to ~40 here): 0.01 % relative, like chisq
MI_RELATIVE_TOLERANCE = 1e-4
EPC_TOLERANCE = 1e-3
# the rule that punches holes in hs1939 for the FIML reference (same as make_reference_sem.R)
FIML_HOLES = (("x2", 7), ("x5", 11), ("x9", 13), ("x1", 17), ("x4", 17))


def sem_reference() -> dict:
    return load("sem_reference.json")


def merged_estimates(fit, reference: dict) -> pd.DataFrame:
    expected = pd.DataFrame({k: reference[k] for k in ("lhs", "op", "rhs", "group", "est", "se", "std_all")})
    expected["rhs"] = expected["rhs"].fillna("")
    ours = fit.estimates.copy()
    if "group" in ours:
        ours["group"] = ours["group"].map({g: i + 1 for i, g in enumerate(fit.n_obs)})
    else:
        ours["group"] = 1
    merged = expected.merge(ours, on=["lhs", "op", "rhs", "group"], suffixes=("_lavaan", ""), how="left")
    assert merged["est"].notna().all(), "a lavaan parameter is missing from our table"
    assert len(ours) == len(expected)
    return merged


def check_estimates(fit, reference: dict) -> None:
    merged = merged_estimates(fit, reference)
    assert merged["est"].to_numpy() == pytest.approx(merged["est_lavaan"].to_numpy(), abs=LOADING_TOLERANCE)
    assert merged["se"].to_numpy() == pytest.approx(merged["se_lavaan"].to_numpy(), abs=SE_TOLERANCE)
    assert merged["std_all"].to_numpy() == pytest.approx(merged["std_all_lavaan"].to_numpy(), abs=STD_TOLERANCE)


def holes(data: pd.DataFrame) -> pd.DataFrame:
    out = data.copy()
    for column, divisor in FIML_HOLES:
        out.loc[out["id"] % divisor == 0, column] = float("nan")
    return out


def test_hs1939_standard_errors_and_std_all(hs_fit):
    check_estimates(hs_fit, sem_reference()["hs_ml"]["estimates"])


@pytest.mark.parametrize(("key", "group_equal"), [
    ("hs_configural", ()), ("hs_scalar", ("loadings", "intercepts")),
    ("hs_strict", ("loadings", "intercepts", "residuals")),
])
def test_multigroup_estimates_and_standard_errors(hs1939, key, group_equal):
    reference = sem_reference()
    fit = cfa(reference["hs_ml"]["model"], hs1939, group="school", group_equal=group_equal)
    check_fit(fit.fit, {k: v for k, v in reference[key]["fit"].items() if k in FIT_KEYS})
    check_estimates(fit, reference[key]["estimates"])
    assert fit.fit["loglik"] == pytest.approx(reference[key]["fit"]["logl"], rel=CHISQ_RELATIVE_TOLERANCE)
    assert fit.fit["npar"] == reference[key]["fit"]["npar"]


FIT_KEYS = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "aic",
            "bic", "ntotal")


def test_fixed_values_and_labels(hs1939):
    reference = sem_reference()["hs_custom"]
    fit = cfa(reference["model"], hs1939)
    check_fit(fit.fit, {k: v for k, v in reference["fit"].items() if k in FIT_KEYS})
    check_estimates(fit, reference["estimates"])


def test_modification_indices(hs_fit):
    reference = pd.DataFrame(sem_reference()["hs_ml"]["modindices"])
    ours = hs_fit.modification_indices(sort=False)
    merged = reference.merge(ours, on=["lhs", "op", "rhs"], suffixes=("_lavaan", ""), how="outer")
    assert len(ours) == len(reference) and merged["mi"].notna().all() and merged["mi_lavaan"].notna().all()
    assert merged["mi"].to_numpy() == pytest.approx(merged["mi_lavaan"].to_numpy(), rel=MI_RELATIVE_TOLERANCE)
    assert merged["epc"].to_numpy() == pytest.approx(merged["epc_lavaan"].to_numpy(), abs=EPC_TOLERANCE)
    assert merged["sepc_all"].to_numpy() == pytest.approx(merged["sepc_all_lavaan"].to_numpy(), abs=EPC_TOLERANCE)


def test_likert1500_modification_indices():
    reference = pd.DataFrame(sem_reference()["likert_ml"]["modindices"])
    data = pd.read_csv(REFERENCE / "likert1500.csv")
    ours = cfa(load("likert1500_reference.json")["model"], data).modification_indices(sort=False)
    merged = reference.merge(ours, on=["lhs", "op", "rhs"], suffixes=("_lavaan", ""), how="inner")
    assert len(merged) == len(reference) == len(ours)
    assert merged["mi"].to_numpy() == pytest.approx(merged["mi_lavaan"].to_numpy(), rel=MI_RELATIVE_TOLERANCE,
                                                    abs=1e-4)
    assert merged["epc"].to_numpy() == pytest.approx(merged["epc_lavaan"].to_numpy(), abs=EPC_TOLERANCE)


@pytest.mark.parametrize("key", ["hs_fiml", "hs_fiml_group_metric"])
def test_fiml_hs1939(hs1939, key):
    reference = sem_reference()
    group_options = {"group": "school", "group_equal": ("loadings",)} if "group" in key else {}
    fit = cfa(reference["hs_ml"]["model"], holes(hs1939), missing="fiml", **group_options)
    assert fit.converged
    check_fit(fit.fit, {k: v for k, v in reference[key]["fit"].items() if k in FIT_KEYS})
    check_estimates(fit, reference[key]["estimates"])  # observed-information SEs, as lavaan


def test_fiml_likert1500():
    reference = sem_reference()["likert_fiml"]
    data = pd.read_csv(REFERENCE / "likert1500.csv")
    fit = cfa(load("likert1500_reference.json")["model"], data, missing="fiml")
    assert fit.fit["n"] == 1500  # every row has an answer: FIML keeps them all
    check_fit(fit.fit, {k: v for k, v in reference["fit"].items() if k in FIT_KEYS})
    check_estimates(fit, reference["estimates"])
