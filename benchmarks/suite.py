"""The cases of benchmarks/run.py: data, the Python implementations, timing and agreement checks.

A case is one analysis on one data set. Its Python implementations (rctscale first, then the
Python peers) and its R implementation (in peers.R) are timed on the same CSV file and return a
few key numbers; ``agreement`` compares each peer's numbers with rctscale's.
"""

from __future__ import annotations

import functools
import gc
import importlib
import importlib.util
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import rctscale as rs
from rctscale import psychometrics as pm
from rctscale.psychometrics.sem.cfa import EstimatorNotAvailableError

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"

N_ITER = 20  # parallel analysis replicates, here and in R
MAX_NUMBER = 1024  # at most this many calls in one timing sample

# --- agreement tolerances (the conformance tests' tolerances, tests/conformance/) ---
ALPHA_TOLERANCE = 1e-4  # alpha, KMO: absolute
CHISQ_RELATIVE_TOLERANCE = 1e-4  # Bartlett, ML and WLSMV chi-squares: relative
LOADING_TOLERANCE = 0.01  # EFA loadings after factor matching: absolute
OMEGA_TOLERANCE = 1e-3  # omega_h, omega_total: absolute
POLYCHORIC_TOLERANCE = 5e-3  # psych's optimize() stops within ~1e-4 of the maximum
GRM_SLOPE_TOLERANCE = 0.01  # mirt stops EM at TOL = 1e-4 by default, rctscale at 1e-5
GRM_LOGLIK_TOLERANCE = 0.01  # log-likelihood: absolute

ANALYSES = {
    "alpha": (1, "Cronbach's alpha"),
    "kmo_bartlett": (2, "KMO + Bartlett"),
    "efa": (3, "EFA minres oblimin"),
    "parallel": (4, f"parallel analysis ({N_ITER} iter)"),
    "omega": (5, "omega"),
    "cfa_ml": (6, "ML CFA"),
    "invariance_ml": (7, "ML invariance (3 steps)"),
    "polychoric": (8, "polychoric matrix"),
    "cfa_wlsmv": (9, "WLSMV CFA"),
    "invariance_wlsmv": (10, "ordinal invariance (3 steps, WLSMV)"),
    "grm": (11, "GRM fit (no SEs)"),
    "validation": (12, "whole ordinal validation"),
}
VALIDATION_STEPS = {
    "polychoric": "polychoric",
    "parallel": f"parallel analysis on polychoric ({N_ITER} iter)",
    "efa": "polychoric EFA",
    "cfa_wlsmv": "WLSMV CFA",
    "invariance_wlsmv": "ordinal invariance (3 steps)",
}


# --- data ---


@dataclass(frozen=True)
class Dataset:
    """A CSV file that both Python and R read, with its items, model and grouping column."""

    key: str
    label: str
    path: Path
    items: list[str]
    model: str
    group: str
    n_factors: int

    def to_config(self) -> dict[str, Any]:
        return {"path": str(self.path)}


def _model(factors: dict[str, list[str]]) -> str:
    return "\n".join(f"{name} =~ {' + '.join(items)}" for name, items in factors.items())


def reference_datasets() -> list[Dataset]:
    """The conformance data: Holzinger & Swineford (continuous) and the Likert sample (ordinal, missing answers)."""
    hs_items = [f"x{i}" for i in range(1, 10)]
    likert = pd.read_csv(REFERENCE / "likert1500.csv", nrows=1)
    lk_items = [c for c in likert.columns if c != "group"]
    return [
        Dataset("hs1939", "hs1939 (301 x 9)", REFERENCE / "hs1939.csv", hs_items,
                _model({"visual": hs_items[:3], "textual": hs_items[3:6], "speed": hs_items[6:]}), "school", 3),
        Dataset("likert1500", "likert1500 (1,500 x 18, missing)", REFERENCE / "likert1500.csv", lk_items,
                _model({"conn": lk_items[:6], "mutu": lk_items[6:12], "shame": lk_items[12:]}), "group", 3),
    ]


def simulated_dataset(folder: Path, n: int, n_factors: int = 6, per_factor: int = 6, seed: int = 2024) -> Dataset:
    """``n`` respondents (two groups) x 36 five-point items on ``n_factors`` correlated factors.

    Group B has shifted factor means and one item (i03) with thresholds 0.5 higher: the kind of
    non-invariance a validation study looks for. Written to ``folder``/simulated.csv for R.
    """
    rng = np.random.default_rng(seed)
    items = [f"i{j + 1:02d}" for j in range(n_factors * per_factor)]
    factors = [f"f{k + 1}" for k in range(n_factors)]
    loadings = pd.DataFrame(0.0, index=items, columns=factors)
    for j, item in enumerate(items):
        loadings.loc[item, factors[j // per_factor]] = rng.uniform(0.55, 0.8)
    phi = pd.DataFrame(0.3 + 0.7 * np.eye(n_factors), index=factors, columns=factors)
    cuts = [-1.5, -0.5, 0.4, 1.3]
    group_a = rs.simulate_factor_model(loadings, phi, cuts, n=n // 2, seed=seed + 1)
    shifted = {item: cuts for item in items} | {items[2]: [c + 0.5 for c in cuts]}
    group_b = rs.simulate_factor_model(loadings, phi, shifted, n=n - n // 2, seed=seed + 2,
                                       factor_means={factors[0]: 0.3, factors[1]: -0.2})
    frame = pd.concat([group_a.assign(group="A"), group_b.assign(group="B")], ignore_index=True)
    path = folder / "simulated.csv"
    frame.to_csv(path, index=False)
    model = _model({f: items[k * per_factor:(k + 1) * per_factor] for k, f in enumerate(factors)})
    return Dataset("simulated", f"simulated ({n:,} x {len(items)}, 2 groups)", path, items, model, "group", n_factors)


# --- cases ---


@dataclass(frozen=True)
class Case:
    """One analysis on one data set."""

    kind: str
    data: Dataset
    items: list[str]
    n_factors: int
    large: bool = False

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.data.key}"

    @property
    def number(self) -> int:
        return ANALYSES[self.kind][0]

    @property
    def analysis(self) -> str:
        name = ANALYSES[self.kind][1]
        if self.kind in ("efa", "omega", "cfa_ml"):
            name += f" ({self.n_factors} factors)"
        if self.kind == "grm" and len(self.items) != len(self.data.items):
            name += f" ({len(self.items)} items)"
        return name

    def to_config(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "data": self.data.key, "items": self.items,
                "n_factors": self.n_factors, "model": self.data.model, "group": self.data.group,
                "large": self.large}


def build_cases(hs: Dataset, likert: Dataset, simulated: Dataset) -> list[Case]:
    """Analyses 1-7 on hs1939, 1-5 and 8-11 on likert1500, 1-7, 11 and 12 on the simulated data."""
    cases = [Case(kind, hs, hs.items, 3) for kind in
             ("alpha", "kmo_bartlett", "efa", "parallel", "omega", "cfa_ml", "invariance_ml")]
    cases += [Case(kind, likert, likert.items, 3) for kind in
              ("alpha", "kmo_bartlett", "efa", "parallel", "omega", "polychoric", "cfa_wlsmv",
               "invariance_wlsmv", "grm")]
    cases += [Case(kind, simulated, simulated.items, simulated.n_factors, large=True) for kind in
              ("alpha", "kmo_bartlett", "efa", "parallel", "omega", "cfa_ml", "invariance_ml")]
    cases.append(Case("grm", simulated, simulated.items[:6], 1, large=True))
    cases.append(Case("validation", simulated, simulated.items, simulated.n_factors, large=True))
    return sorted(cases, key=lambda c: c.number)


# --- implementations ---


@dataclass(frozen=True)
class Impl:
    """A timed call and the extraction of its key numbers; ``skipped`` when it cannot run here."""

    label: str
    run: Callable[[], Any] = lambda: None
    key: Callable[[Any], dict[str, Any]] = lambda result: {}
    skipped: str | None = None


def _peer(label: str, module: str, make: Callable[[Any], Impl]) -> Impl:
    """A peer implementation, or a skipped one when its package is not installed."""
    try:
        imported = importlib.import_module(module)
    except ImportError as error:
        return Impl(label, skipped=f"not installed ({error})")
    return make(imported)


def _factor_analyzer(label: str, make: Callable[[Any], Impl]) -> Impl:
    return _peer(label, "factor_analyzer", make)


def _semopy_chisq(semopy: Any, model: str, frame: pd.DataFrame) -> Impl:
    def run() -> Any:
        fitted = semopy.Model(model)
        fitted.fit(frame)
        return semopy.calc_stats(fitted)

    return Impl("semopy Model.fit + calc_stats", run, lambda stats: {"chisq": float(stats["chi2"].iloc[0])})


def _hetcor(semopy_polycorr: Any, items: pd.DataFrame) -> Impl:
    """semopy's hetcor: its DataFrame path and, when that fails, its ndarray path."""

    def run() -> Any:
        try:
            return semopy_polycorr.hetcor(items)
        except Exception as frame_error:  # reported, then the ndarray form is tried
            try:
                return semopy_polycorr.hetcor(items.to_numpy(dtype=float))
            except Exception as array_error:
                raise RuntimeError(f"DataFrame input: {type(frame_error).__name__}: {frame_error}; "
                                   f"ndarray input: {type(array_error).__name__}: {array_error}") from array_error

    return Impl("semopy hetcor", run, lambda rho: {"rho": np.asarray(rho, dtype=float)})


def _validation(case: Case, frame: pd.DataFrame) -> Callable[[], dict[str, Any]]:
    """The five steps of an ordinal validation, each timed."""
    x = frame[case.items]
    model, group = case.data.model, case.data.group

    def run() -> dict[str, Any]:
        steps: dict[str, float] = {}
        start = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal start
            now = time.perf_counter()
            steps[name] = now - start
            start = now

        rho = pm.polychoric(x)
        lap("polychoric")
        parallel = pm.parallel_analysis(x, n_iter=N_ITER, corr="polychoric", seed=0)
        lap("parallel")
        efa = pm.efa(rho, n_factors=parallel.n_factors, n_obs=len(x), method="minres", rotation="oblimin")
        lap("efa")
        fit = pm.cfa(model, frame, estimator="WLSMV", ordered=True)
        lap("cfa_wlsmv")
        table = pm.invariance(model, frame, group=group, estimator="WLSMV", ordered=True).table
        lap("invariance_wlsmv")
        return {"steps": steps, "key": {
            "rho": rho.to_numpy(), "n_factors": parallel.n_factors, "loadings": efa.loadings.to_numpy(),
            "chisq_scaled": fit.fit["chisq_scaled"], "inv_chisq_scaled": table["chisq_scaled"].to_numpy()}}

    return run


def python_implementations(case: Case, frame: pd.DataFrame) -> list[Impl]:
    """rctscale's implementation of ``case`` first, then the Python peers'."""
    x = frame[case.items]
    nf, model, group = case.n_factors, case.data.model, case.data.group
    kind = case.kind
    if kind == "alpha":
        return [Impl("rctscale pm.alpha", lambda: pm.alpha(x), lambda r: {"alpha": r.alpha}),
                _peer("pingouin.cronbach_alpha", "pingouin", lambda pg: Impl(
                    "pingouin.cronbach_alpha", lambda: pg.cronbach_alpha(x), lambda r: {"alpha": float(r[0])}))]
    if kind == "kmo_bartlett":
        def factor_analyzer_kmo(fa: Any) -> Impl:
            module = importlib.import_module("factor_analyzer.factor_analyzer")
            return Impl("factor_analyzer calculate_kmo + bartlett",
                        lambda: (module.calculate_kmo(x), module.calculate_bartlett_sphericity(x)),
                        lambda r: {"kmo": float(r[0][1]), "bartlett_chisq": float(r[1][0])})

        return [Impl("rctscale pm.kmo + pm.bartlett", lambda: (pm.kmo(x), pm.bartlett(x)),
                     lambda r: {"kmo": r[0].overall, "bartlett_chisq": r[1].chisq}),
                _factor_analyzer("factor_analyzer calculate_kmo + bartlett", factor_analyzer_kmo)]
    if kind == "efa":
        return [Impl("rctscale pm.efa", lambda: pm.efa(x, n_factors=nf, method="minres", rotation="oblimin"),
                     lambda r: {"loadings": r.loadings.to_numpy()}),
                _factor_analyzer("factor_analyzer FactorAnalyzer", lambda fa: Impl(
                    "factor_analyzer FactorAnalyzer",
                    lambda: fa.FactorAnalyzer(nf, method="minres", rotation="oblimin").fit(x),
                    lambda r: {"loadings": np.asarray(r.loadings_)}))]
    if kind == "parallel":
        return [Impl("rctscale pm.parallel_analysis", lambda: pm.parallel_analysis(x, n_iter=N_ITER, seed=0),
                     lambda r: {"n_factors": r.n_factors, "n_components": r.n_components})]
    if kind == "omega":
        return [Impl("rctscale pm.omega", lambda: pm.omega(x, n_factors=nf),
                     lambda r: {"omega_h": r.omega_h, "omega_total": r.omega_total})]
    if kind == "cfa_ml":
        return [Impl("rctscale pm.cfa ML", lambda: pm.cfa(model, frame, estimator="ML"),
                     lambda r: {"chisq": r.fit["chisq"]}),
                _peer("semopy Model.fit + calc_stats", "semopy", lambda sp: _semopy_chisq(sp, model, frame))]
    if kind == "invariance_ml":
        steps = ("configural", "metric", "scalar")
        return [Impl("rctscale pm.invariance ML",
                     lambda: pm.invariance(model, frame, group=group, estimator="ML", steps=steps),
                     lambda r: {"chisq": r.table["chisq"].to_numpy()})]
    if kind == "polychoric":
        return [Impl("rctscale pm.polychoric", lambda: pm.polychoric(x), lambda r: {"rho": r.to_numpy()}),
                _peer("semopy hetcor", "semopy.polycorr", lambda polycorr: _hetcor(polycorr, x))]
    if kind == "cfa_wlsmv":
        return [Impl("rctscale pm.cfa WLSMV", lambda: pm.cfa(model, frame, estimator="WLSMV", ordered=True),
                     lambda r: {"chisq": r.fit["chisq"], "chisq_scaled": r.fit["chisq_scaled"]})]
    if kind == "invariance_wlsmv":
        return [Impl("rctscale pm.invariance WLSMV",
                     lambda: pm.invariance(model, frame, group=group, estimator="WLSMV", ordered=True),
                     lambda r: {"chisq": r.table["chisq"].to_numpy(),
                                "chisq_scaled": r.table["chisq_scaled"].to_numpy()})]
    if kind == "grm":
        return [Impl("rctscale pm.graded_response_model",
                     lambda: pm.graded_response_model(x, standard_errors=False),
                     lambda r: {"a": r.parameters["a"].to_numpy(), "loglik": r.loglik})]
    if kind == "validation":
        return [Impl("rctscale", _validation(case, frame), lambda r: r["key"])]
    raise ValueError(f"unknown case kind {kind!r}")


# --- timing ---


@dataclass
class Outcome:
    """What one implementation of one case gave: times (seconds per call), or why it did not run."""

    impl: str
    times: list[float] = field(default_factory=list)
    number: int = 1
    key: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, float]] = field(default_factory=list)
    status: str = "ok"  # ok, skipped, not available, fails
    reason: str = ""

    @property
    def median(self) -> float:
        return float(np.median(self.times)) if self.times else math.nan

    def step_median(self, step: str) -> float:
        values = [s[step] for s in self.steps if s.get(step) is not None]
        return float(np.median(values)) if values else math.nan

    @classmethod
    def from_r(cls, entry: dict[str, Any] | None) -> Outcome:
        if entry is None:
            return cls("R", status="skipped", reason="no R result")
        impl = entry.get("impl", "R")
        if "skipped" in entry:
            return cls(impl, status="skipped", reason=entry["skipped"])
        if "error" in entry:
            return cls(impl, status="fails", reason=entry["error"])
        return cls(impl, times=[float(t) for t in np.atleast_1d(entry["times"])], number=int(entry["number"]),
                   key=entry.get("key") or {}, steps=list(entry.get("steps") or []))


def _one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


def measure(impl: Impl, repeats: int, min_sample: float) -> Outcome:
    """One warm-up call; calls shorter than ``min_sample`` are looped (``number`` per sample); ``repeats`` samples."""
    if impl.skipped:
        return Outcome(impl.label, status="skipped", reason=impl.skipped)
    gc.collect()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            value = impl.run()
            warm = time.perf_counter() - start
            number = 1
            if warm < min_sample:
                while True:
                    start = time.perf_counter()
                    for _ in range(number):
                        impl.run()
                    if time.perf_counter() - start >= min_sample or number >= MAX_NUMBER:
                        break
                    number *= 2
            times, values = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                for _ in range(number):
                    value = impl.run()
                times.append((time.perf_counter() - start) / number)
                values.append(value)
    except EstimatorNotAvailableError as error:
        return Outcome(impl.label, status="not available", reason=_one_line(error))
    except Exception as error:  # a failing implementation is a result
        return Outcome(impl.label, status="fails", reason=_one_line(error))
    outcome = Outcome(impl.label, times=times, number=number, key=impl.key(value))
    if isinstance(value, dict) and "steps" in value:
        outcome.steps = [v["steps"] for v in values]
    return outcome


# --- agreement ---


@dataclass(frozen=True)
class Check:
    name: str
    deviation: float
    tolerance: float
    relative: bool = False
    exact: bool = False  # a count compared for equality: the name says it all

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.deviation) and self.deviation <= self.tolerance)

    def __str__(self) -> str:
        if self.exact:
            return self.name
        kind = "rel " if self.relative else ""
        return f"{self.name} {kind}{self.deviation:.1e}"


def _array(value: Any) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in np.ravel(np.asarray(value, dtype=object))],
                      dtype=float).reshape(np.shape(np.asarray(value, dtype=object)))


def _absolute(name: str, ours: Any, theirs: Any, tolerance: float) -> Check:
    a, b = _array(ours), _array(theirs)
    if a.shape != b.shape:
        return Check(f"{name} shape {a.shape} vs {b.shape}", math.inf, tolerance)
    return Check(name, float(np.max(np.abs(a - b))), tolerance)


def _relative(name: str, ours: Any, theirs: Any, tolerance: float) -> Check:
    a, b = _array(ours), _array(theirs)
    if a.shape != b.shape:
        return Check(f"{name} shape {a.shape} vs {b.shape}", math.inf, tolerance, relative=True)
    return Check(name, float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12))), tolerance, relative=True)


def _loadings(ours: Any, theirs: Any) -> Check:
    a, b = _array(ours), _array(theirs)
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    if a.shape != b.shape:
        return Check(f"loadings shape {a.shape} vs {b.shape}", math.inf, LOADING_TOLERANCE)
    matched, _ = _match_factors()(b, a)
    return Check("loadings", float(np.max(np.abs(matched - a))), LOADING_TOLERANCE)


@functools.cache
def _match_factors() -> Callable[..., tuple[np.ndarray, np.ndarray | None]]:
    """tests/factor_matching.py's helper (tests/ is no package: loaded from its path)."""
    spec = importlib.util.spec_from_file_location("factor_matching", ROOT / "tests" / "factor_matching.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.match_factors


def checks(kind: str, ours: dict[str, Any], theirs: dict[str, Any]) -> list[Check]:
    """The key numbers of ``kind`` compared; every check carries its tolerance."""
    if kind == "alpha":
        return [_absolute("alpha", ours["alpha"], theirs["alpha"], ALPHA_TOLERANCE)]
    if kind == "kmo_bartlett":
        return [_absolute("KMO", ours["kmo"], theirs["kmo"], ALPHA_TOLERANCE),
                _relative("chisq", ours["bartlett_chisq"], theirs["bartlett_chisq"], CHISQ_RELATIVE_TOLERANCE)]
    if kind == "efa":
        return [_loadings(ours["loadings"], theirs["loadings"])]
    if kind == "parallel":
        return [Check(f"n_factors {ours['n_factors']} vs {theirs['n_factors']}",
                      abs(ours["n_factors"] - theirs["n_factors"]), 0, exact=True)]
    if kind == "omega":
        return [_absolute("omega_h", ours["omega_h"], theirs["omega_h"], OMEGA_TOLERANCE),
                _absolute("omega_t", ours["omega_total"], theirs["omega_total"], OMEGA_TOLERANCE)]
    if kind in ("cfa_ml", "invariance_ml"):
        return [_relative("chisq", ours["chisq"], theirs["chisq"], CHISQ_RELATIVE_TOLERANCE)]
    if kind == "polychoric":
        return [_absolute("rho", ours["rho"], theirs["rho"], POLYCHORIC_TOLERANCE)]
    if kind in ("cfa_wlsmv", "invariance_wlsmv"):
        return [_relative("chisq", ours["chisq"], theirs["chisq"], CHISQ_RELATIVE_TOLERANCE),
                _relative("scaled", ours["chisq_scaled"], theirs["chisq_scaled"], CHISQ_RELATIVE_TOLERANCE)]
    if kind == "grm":
        return [_absolute("a", ours["a"], theirs["a"], GRM_SLOPE_TOLERANCE),
                _absolute("logLik", ours["loglik"], theirs["loglik"], GRM_LOGLIK_TOLERANCE)]
    raise ValueError(f"no agreement check for {kind!r}")


def validation_checks(step: str, ours: dict[str, Any], theirs: dict[str, Any]) -> list[Check]:
    """The agreement of one step of the whole validation."""
    if step == "polychoric":
        return checks("polychoric", ours, theirs)
    if step == "parallel":
        return checks("parallel", ours, theirs)
    if step == "efa":
        if ours["n_factors"] != theirs["n_factors"]:
            return [Check("not compared: numbers of factors differ", math.inf, LOADING_TOLERANCE, exact=True)]
        return [_loadings(ours["loadings"], theirs["loadings"])]
    if step == "cfa_wlsmv":
        return [_relative("scaled", ours["chisq_scaled"], theirs["chisq_scaled"], CHISQ_RELATIVE_TOLERANCE)]
    if step == "invariance_wlsmv":
        return [_relative("scaled", ours["inv_chisq_scaled"], theirs["inv_chisq_scaled"], CHISQ_RELATIVE_TOLERANCE)]
    raise ValueError(f"unknown validation step {step!r}")


def verdict(found: list[Check]) -> str:
    """'yes (...)' when every check is within its tolerance, else 'NO (...)' naming the failures."""
    bad = [c for c in found if not c.ok]
    if bad:
        return "NO (" + ", ".join(str(c) if c.exact else f"{c} > {c.tolerance:g}" for c in bad) + ")"
    return "yes (" + ", ".join(str(c) for c in found) + ")"
