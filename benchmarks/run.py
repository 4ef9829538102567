"""Time rctscale against its peers on the same data, in one run, and check that the numbers agree.

Run by hand (never as a test):

    .venv/bin/python benchmarks/run.py                      # full run: 15-20 minutes on 2 cores
    .venv/bin/python benchmarks/run.py --quick              # smoke run: 2,000 simulated respondents, 5-10 min
    .venv/bin/python benchmarks/run.py --json results.json  # also write every time and key number
    .venv/bin/python benchmarks/run.py --unset-openblas-env # re-run itself without OPENBLAS_CORETYPE/_L2_SIZE
    .venv/bin/python benchmarks/run.py --blas-threads 1     # numpy's BLAS on one thread (threadpoolctl)

Peers: pingouin, factor_analyzer and semopy in this process; R's psych, lavaan and mirt in one
Rscript call (a script generated from peers.R into a temporary folder) that reads the same CSV
files. Every implementation gets one warm-up call, then ``--repeats`` timed samples (calls
shorter than ``--min-sample`` seconds are looped inside a sample); the table shows the median
seconds per call, the ratio peer / rctscale (above 1: rctscale is faster) and whether the key
numbers agree with rctscale's. See benchmarks/README.md for what each row means.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE may be set on this machine (older OpenBLAS builds need
them); they make a current numpy pick slower kernels. The header reports them and the kernel in
use; they are only removed when ``--unset-openblas-env`` is given, which re-executes this script
without them (R uses its own BLAS and is unaffected).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from suite import Case, Check, Outcome

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
REMOVED_MARKER = "RCTSCALE_BENCH_REMOVED_ENV"  # what --unset-openblas-env removed, for the header

POLYCHORIC_TARGET = 20.0  # times faster than psych::polychoric
WLSMV_TARGET = 10.0  # times faster than lavaan's WLSMV cfa
VALIDATION_TARGET_SECONDS = 10.0  # whole ordinal validation of 10,000 x 36


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 repeats (1 on the large data), 2,000 simulated respondents")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write all times, key numbers and settings here")
    parser.add_argument("--repeats", type=int, help="timed samples per implementation (default 5; --quick 2)")
    parser.add_argument("--large-repeats", type=int,
                        help="timed samples on the simulated data (default 3; --quick 1)")
    parser.add_argument("--n-large", type=int, help="simulated respondents (default 10,000; --quick 2,000)")
    parser.add_argument("--min-sample", type=float, default=0.05,
                        help="seconds: faster calls are looped so one sample lasts at least this (default 0.05)")
    parser.add_argument("--only", metavar="TEXT",
                        help="only the cases whose id contains one of these comma-separated texts "
                             "(ids are kind/data, e.g. polychoric/likert1500, validation)")
    parser.add_argument("--no-r", action="store_true", help="skip the R peers")
    parser.add_argument("--rscript", default=shutil.which("Rscript") or "/usr/bin/Rscript",
                        help="the Rscript to run (default: Rscript on PATH)")
    parser.add_argument("--r-timeout", type=float, default=7200.0, help="seconds the R run may take (default 7200)")
    parser.add_argument("--blas-threads", type=int, metavar="N",
                        help="limit numpy's BLAS to N threads (threadpoolctl) for the Python side; default: as is")
    parser.add_argument("--unset-openblas-env", action="store_true",
                        help="re-execute without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (numpy's BLAS then picks "
                             "its kernel for this CPU); the header says what was removed")
    arguments = parser.parse_args(argv)
    quick = arguments.quick
    arguments.repeats = arguments.repeats or (2 if quick else 5)
    arguments.large_repeats = arguments.large_repeats or (1 if quick else 3)
    arguments.n_large = arguments.n_large or (2_000 if quick else 10_000)
    return arguments


def reexec_without_openblas_variables() -> None:
    """Replace this process by the same command without the OPENBLAS_* variables (before numpy loads)."""
    removed = {name: os.environ[name] for name in OPENBLAS_VARIABLES if name in os.environ}
    if not removed:
        return
    environment = {k: v for k, v in os.environ.items() if k not in removed}
    environment[REMOVED_MARKER] = json.dumps(removed)
    print(f"re-executing without {', '.join(f'{k}={v}' for k, v in removed.items())}", file=sys.stderr)
    os.execve(sys.executable, [sys.executable, *sys.argv], environment)


# --- the machine ---


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _git_commit() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")


def _blas() -> list[str]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed: BLAS threads unknown"]
    return [f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('prefix')}): "
            f"{pool.get('num_threads')} threads, kernel {pool.get('architecture', '?')}"
            for pool in threadpool_info()]


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1 / 5 / 15 min)"


def machine(arguments: argparse.Namespace) -> dict[str, Any]:
    removed = json.loads(os.environ.get(REMOVED_MARKER, "{}"))
    openblas = {}
    for name in OPENBLAS_VARIABLES:
        if name in removed:
            openblas[name] = f"unset by --unset-openblas-env (was {removed[name]})"
        else:
            openblas[name] = os.environ.get(name, "unset")
    return {
        "date": datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory": _memory(),
        "python": platform.python_version(),
        "rctscale": f"{_version('rctscale')} at {_git_commit()}",
        "numpy": _version("numpy"), "scipy": _version("scipy"), "pandas": _version("pandas"),
        "peers": {p: _version(p) for p in ("pingouin", "factor_analyzer", "scikit-learn", "semopy")},
        "blas": _blas(),
        "openblas_env": openblas,
        "settings": {"repeats": arguments.repeats, "large_repeats": arguments.large_repeats,
                     "blas_threads": arguments.blas_threads or "as is",
                     "min_sample_seconds": arguments.min_sample, "n_large": arguments.n_large},
    }


# --- running ---


def run_python(cases: list[Case], arguments: argparse.Namespace) -> dict[str, list[Outcome]]:
    import pandas as pd
    import suite

    frames: dict[str, pd.DataFrame] = {}
    outcomes: dict[str, list[Outcome]] = {}
    for case in cases:
        if case.data.key not in frames:
            frames[case.data.key] = pd.read_csv(case.data.path)
        repeats = arguments.large_repeats if case.large else arguments.repeats
        outcomes[case.id] = []
        for impl in suite.python_implementations(case, frames[case.data.key]):
            print(f"[py] {case.id}: {impl.label} ...", file=sys.stderr, flush=True)
            outcomes[case.id].append(suite.measure(impl, repeats, arguments.min_sample))
    return outcomes


def run_r(cases: list[Case], folder: Path, arguments: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """All R cases in one Rscript call: (results by case id and R's versions, or None and why not)."""
    import suite

    if arguments.no_r:
        return {}, "R skipped (--no-r)"
    if not Path(arguments.rscript).exists() and not shutil.which(arguments.rscript):
        return {}, f"Rscript not found ({arguments.rscript})"
    output = folder / "r_results.json"
    config = {
        "data": {c.data.key: c.data.to_config() for c in cases},
        "cases": [c.to_config() for c in cases],
        "repeats": arguments.repeats, "large_repeats": arguments.large_repeats,
        "min_sample": arguments.min_sample, "max_number": suite.MAX_NUMBER, "n_iter": suite.N_ITER,
        "output": str(output),
    }
    script = folder / "bench.R"
    config_literal = json.dumps(config).replace("\\", "\\\\").replace("'", "\\'")
    script.write_text(f"CONFIG_JSON <- '{config_literal}'\n" + (HERE / "peers.R").read_text())
    print(f"[R] {arguments.rscript} {script}", file=sys.stderr, flush=True)
    try:
        completed = subprocess.run([arguments.rscript, "--vanilla", str(script)], cwd=folder, stdout=sys.stderr,
                                   stderr=sys.stderr, timeout=arguments.r_timeout, check=False)
    except subprocess.TimeoutExpired:
        return {}, f"R run exceeded --r-timeout {arguments.r_timeout:.0f} s"
    if completed.returncode != 0 or not output.exists():
        return {}, f"Rscript failed (exit code {completed.returncode}; see its messages above)"
    return json.loads(output.read_text()), None


# --- the report ---


def seconds(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} µs"


def ratio(peer: float, ours: float) -> float:
    return peer / ours if math.isfinite(peer) and math.isfinite(ours) and ours > 0 else math.nan


def ratio_text(value: float) -> str:
    return f"{value:.1f}×" if math.isfinite(value) else "—"


def status_text(outcome: Outcome) -> str:
    if outcome.status == "not available":
        return f"not available ({outcome.reason})"
    return f"{outcome.status}: {outcome.reason}"


def agreement_text(kind: str, ours: Outcome, theirs: Outcome, step: str | None = None) -> str:
    import suite

    if theirs.status != "ok":
        return status_text(theirs)
    if ours.status != "ok":
        return "— (rctscale did not run)"
    try:
        if kind == "validation" and step is None:  # the total: every step's checks, summarized
            failing = [name for name in suite.VALIDATION_STEPS
                       if not all(c.ok for c in suite.validation_checks(name, ours.key, theirs.key))]
            return f"NO (steps: {', '.join(failing)})" if failing else "yes (every step, see below)"
        found: list[Check] = (suite.validation_checks(step, ours.key, theirs.key) if step
                              else suite.checks(kind, ours.key, theirs.key))
    except (KeyError, TypeError, ValueError) as error:
        return f"cannot compare: {type(error).__name__}: {error}"
    return suite.verdict(found)


def build_rows(cases: list[Case], outcomes: dict[str, list[Outcome]]) -> list[dict[str, Any]]:
    """One row per case and implementation (rctscale first); the validation adds one row per step."""
    import suite

    rows: list[dict[str, Any]] = []
    for case in cases:
        ours, *peers = outcomes[case.id]
        base = {"case": case.id, "number": str(case.number), "analysis": case.analysis, "data": case.data.label}
        for outcome in (ours, *peers):
            is_ours = outcome is ours
            rows.append(base | {
                "implementation": outcome.impl, "median": outcome.median, "times": outcome.times,
                "samples": f"{len(outcome.times)}×{outcome.number}" if outcome.times else "—",
                "ratio": math.nan if is_ours else ratio(outcome.median, ours.median),
                "same": ("reference" if ours.status == "ok" else status_text(ours)) if is_ours
                else agreement_text(case.kind, ours, outcome),
                "peer": not is_ours,
            })
        if case.kind != "validation":
            continue
        for letter, (step, name) in zip("abcde", suite.VALIDATION_STEPS.items(), strict=True):
            step_base = base | {"number": f"{case.number}{letter}", "analysis": f"  {name}", "step": step}
            for outcome in (ours, *peers):
                is_ours = outcome is ours
                median = outcome.step_median(step)
                rows.append(step_base | {
                    "implementation": outcome.impl, "median": median,
                    "samples": f"{len(outcome.steps)}×1" if outcome.steps else "—",
                    "ratio": math.nan if is_ours else ratio(median, ours.step_median(step)),
                    "same": ("reference" if ours.status == "ok" else status_text(ours)) if is_ours
                    else agreement_text(case.kind, ours, outcome, step),
                    "peer": not is_ours,
                })
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    header = ["#", "analysis", "data", "implementation", "median / call", "samples×calls", "peer / rctscale",
              "same numbers"]
    lines = [[r["number"], r["analysis"], r["data"], r["implementation"], seconds(r["median"]), r["samples"],
              ratio_text(r["ratio"]) if r["peer"] else "", r["same"]] for r in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, lines)])


def targets(cases: list[Case], outcomes: dict[str, list[Outcome]]) -> list[str]:
    """The performance targets, each 'met' or 'NOT met' with the figures behind it."""
    import suite

    found = []
    for case in cases:
        ours, *peers = outcomes[case.id]
        timed = [p for p in peers if p.status == "ok"]
        title = f"{case.number} {case.analysis} on {case.data.key}"
        if ours.status != "ok":
            found.append(f"- {title}: rctscale {status_text(ours)}")
            continue
        if not timed:
            found.append(f"- {title}: no peer ran")
            continue
        fastest = min(timed, key=lambda p: p.median)
        verdict = "met" if fastest.median >= ours.median else "NOT met"
        found.append(f"- {title}: {verdict}: rctscale {seconds(ours.median)}, fastest peer {fastest.impl} "
                     f"{seconds(fastest.median)} ({ratio_text(ratio(fastest.median, ours.median))})")

    def speedup(label: str, target: float, pairs: list[tuple[float, float, str]]) -> None:
        for ours_s, theirs_s, where in pairs:
            value = ratio(theirs_s, ours_s)
            verdict = "met" if value >= target else "NOT met"
            found.append(f"- {label} >= {target:g}× ({where}): {verdict}: {ratio_text(value)} "
                         f"({seconds(ours_s)} vs {seconds(theirs_s)})")

    def r_peer(case_id: str) -> tuple[Outcome, Outcome] | None:
        result = outcomes.get(case_id)
        if not result or len(result) < 2:
            return None
        return result[0], result[-1]

    validation = next((c for c in cases if c.kind == "validation"), None)
    for kind, label, target, step in (("polychoric", "polychoric vs psych::polychoric", POLYCHORIC_TARGET,
                                       "polychoric"),
                                      ("cfa_wlsmv", "WLSMV CFA vs lavaan", WLSMV_TARGET, "cfa_wlsmv")):
        pairs = []
        for case in cases:
            if case.kind == kind and (pair := r_peer(case.id)):
                pairs.append((pair[0].median, pair[1].median, case.data.key))
        if validation and (pair := r_peer(validation.id)):
            pairs.append((pair[0].step_median(step), pair[1].step_median(step),
                          f"{validation.data.key}, inside the validation"))
        speedup(label, target, pairs)
    if validation:
        ours = outcomes[validation.id][0]
        if ours.status != "ok":
            found.append(f"- whole ordinal validation under {VALIDATION_TARGET_SECONDS:g} s: rctscale "
                         f"{status_text(ours)}")
        else:
            steps = {name: ours.step_median(step) for step, name in suite.VALIDATION_STEPS.items()}
            slowest = max(steps, key=lambda name: steps[name])
            verdict = "met" if ours.median < VALIDATION_TARGET_SECONDS else "NOT met"
            found.append(f"- whole ordinal validation ({validation.data.label}) under "
                         f"{VALIDATION_TARGET_SECONDS:g} s: {verdict}: {seconds(ours.median)}; slowest step: "
                         f"{slowest} ({seconds(steps[slowest])})")
    return found


def header_lines(info: dict[str, Any], r_meta: dict[str, Any], r_problem: str | None) -> list[str]:
    lines = [
        f"# rctscale benchmark, {info['date']}",
        "",
        f"- machine: {info['cpu']}, nproc {info['nproc']} (usable {info['usable_cpus']}), memory {info['memory']}",
        f"- load average at start: {info['load_start']}; at end: {info['load_end']}",
        f"- Python {info['python']}, rctscale {info['rctscale']}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"pandas {info['pandas']}",
        "- peers: " + ", ".join(f"{k} {v}" for k, v in info["peers"].items()),
        "- numpy BLAS (threadpoolctl): " + "; ".join(info["blas"]),
        "- " + ", ".join(f"{k}={v}" for k, v in info["openblas_env"].items())
        + " (set, they select older, slower OpenBLAS kernels; --unset-openblas-env re-runs without them)",
    ]
    if r_meta:
        packages = ", ".join(f"{k} {v if v else 'not installed'}" for k, v in r_meta.get("packages", {}).items())
        lines.append(f"- {r_meta.get('r_version')}: {packages}; BLAS {r_meta.get('blas')}; "
                     f"psych's mclapply uses mc.cores = {r_meta.get('mc_cores')} of {r_meta.get('detected_cores')}")
    else:
        lines.append(f"- R: {r_problem}")
    s = info["settings"]
    lines.append(f"- median of {s['repeats']} samples ({s['large_repeats']} on the simulated data) after one "
                 f"warm-up call; calls under {s['min_sample_seconds']} s looped inside a sample; "
                 "peer / rctscale above 1 means rctscale is faster")
    return lines


def plain(value: Any) -> Any:
    """JSON-ready copies of numpy values."""
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.unset_openblas_env:
        reexec_without_openblas_variables()
    load_start = _load()
    import suite  # numpy and rctscale load here, after the environment is settled

    if arguments.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(arguments.blas_threads)  # process-wide, for the rest of the run
    info = machine(arguments) | {"load_start": load_start}
    with tempfile.TemporaryDirectory(prefix="rctscale-bench-") as temporary:
        folder = Path(temporary)
        hs, likert = suite.reference_datasets()
        simulated = suite.simulated_dataset(folder, arguments.n_large)
        cases = suite.build_cases(hs, likert, simulated)
        if arguments.only:
            wanted = [text.strip() for text in arguments.only.split(",") if text.strip()]
            cases = [c for c in cases if any(text in c.id for text in wanted)]
        if not cases:
            print("no case matches --only", file=sys.stderr)
            return 2
        outcomes = run_python(cases, arguments)
        r_output, r_problem = run_r(cases, folder, arguments)
    r_results = r_output.get("results", {})
    for case in cases:
        if r_problem:
            outcomes[case.id].append(suite.Outcome("R", status="skipped", reason=r_problem))
        else:
            outcomes[case.id].append(suite.Outcome.from_r(r_results.get(case.id)))
    info["load_end"] = _load()

    rows = build_rows(cases, outcomes)
    found = targets(cases, outcomes)
    report = "\n".join([*header_lines(info, r_output.get("meta", {}), r_problem), "", markdown_table(rows), "",
                        "## Targets", "", *found])
    print(report)
    if arguments.json:
        arguments.json.write_text(json.dumps(plain({
            "machine": info, "r": r_output.get("meta"), "r_problem": r_problem, "rows": rows, "targets": found,
            "cases": [c.to_config() | {"outcomes": [o.__dict__ for o in outcomes[c.id]]} for c in cases],
        }), indent=1))
        print(f"\nwrote {arguments.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
