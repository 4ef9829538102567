"""Analysis plans: declarative YAML study specs (``analysis/*.yaml``) that ``rctscale analyze`` runs.

A plan names the data, the form, the scales and reverse keys, the missing-data policy and the
settings of every analysis, so that a validation study can be rerun to the same numbers.
``analysis/README.md`` documents the format. :func:`load_plan` checks a plan against its
form (items, scales, model syntax) and :meth:`Plan.check_data` against the data's columns;
every mistake is reported as ``file:line: what is wrong; how to fix it``, all in one pass.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rctscale.bank import Form, load_form
from rctscale.bank.yaml_source import LocatedDict, LocatedList, read_yaml
from rctscale.errors import BankError, ModelError, PlanError

FROM_FORM = "from_form"
PLAN_KEYS = ("plan", "title", "data", "form", "id_column", "missing_codes", "group", "scales", "reverse", "missing",
             "efa", "parallel_analysis", "cfa", "invariance", "irt", "bootstrap", "seed")
MISSING_KEYS = ("statistics", "cfa")
EFA_KEYS = ("n_factors", "method", "rotation", "corr")
PARALLEL_KEYS = ("iterations",)
CFA_KEYS = ("model", "estimator", "ordered")
SCALE_KEYS = ("id", "name", "items")

STATISTICS_MISSING = ("pairwise", "listwise")
CFA_MISSING = ("listwise", "fiml")
EFA_METHODS = ("minres", "ml", "pa")
EFA_ROTATIONS = ("oblimin", "quartimin", "geomin", "promax", "varimax", "none")
CORRELATIONS = ("pearson", "polychoric")
ESTIMATORS = ("ML", "WLSMV")
N_FACTOR_RULES = ("parallel", "scales")
DEFAULT_ID_COLUMN = "id"
DEFAULT_MISSING_CODES = ("", "NA", "N/A", "NaN", "nan", ".")


@dataclass(frozen=True)
class PlanScale:
    """A scale the plan analyses: its id, its name and its items."""

    id: str
    name: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class EFASettings:
    n_factors: int | str  # a number, "parallel" (parallel analysis decides) or "scales" (one per scale)
    method: str = "minres"
    rotation: str = "oblimin"
    corr: str = "pearson"


@dataclass(frozen=True)
class CFASettings:
    model: str | None  # lavaan syntax; None: one factor per plan scale (``from_form``)
    estimator: str = "ML"
    ordered: bool = False


@dataclass(frozen=True)
class Plan:
    """A checked analysis plan; paths are resolved against the plan file's directory."""

    path: Path
    name: str
    title: str
    data: Path | None
    form: Form
    id_column: str
    missing_codes: tuple[str, ...]
    group: str | None
    scales: tuple[PlanScale, ...]
    reverse: tuple[str, ...]
    statistics_missing: str
    cfa_missing: str
    efa: EFASettings
    parallel_iterations: int
    cfa: CFASettings
    invariance: bool
    irt: bool
    bootstrap: int
    seed: int
    text: str
    content_hash: str
    key_lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    id_column_stated: bool = False

    @property
    def item_ids(self) -> list[str]:
        """The items of all plan scales, in the form's order."""
        used = {item_id for scale in self.scales for item_id in scale.items}
        return [item_id for item_id in self.form.item_ids if item_id in used]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, 1)

    def data_path(self, override: str | Path | None = None) -> Path:
        """The data file to analyse: ``override`` (the command line's DATA) or the plan's ``data``."""
        if override is not None:
            return Path(override)
        if self.data is None:
            raise PlanError(f"{self.path}:1: the plan names no data file; add 'data: path/to/responses.csv' "
                            "(relative to the plan) or give the data file on the command line")
        if not self.data.exists():
            raise PlanError(f"{self.path}:{self.line_of('data')}: data: {self.data} does not exist; fix the path "
                            "(it is relative to the plan file) or give the data file on the command line")
        return self.data

    def check_data(self, columns: Iterable[str], source: str | Path) -> None:
        """Check the columns the plan names against the data (items are checked by the data reader)."""
        present = [str(c) for c in columns]
        problems = _Problems(self.path)
        if self.group is not None and self.group not in present:
            problems.add(self.line_of("group"),
                         f"group: column '{self.group}' is not in {source}{_suggest(self.group, present)} "
                         f"(its columns: {_short_list(present)}); name an existing column or set group: null")
        if self.id_column_stated and self.id_column not in present:
            problems.add(self.line_of("id_column"),
                         f"id_column: column '{self.id_column}' is not in {source}{_suggest(self.id_column, present)}"
                         "; name an existing column or leave id_column out")
        problems.raise_if_any()

    def settings(self) -> dict[str, Any]:
        """The plan as resolved: what ran, with every default filled in (recorded with the results)."""
        return {
            "name": self.name, "title": self.title, "form": self.form.id,
            "data": str(self.data) if self.data else None, "id_column": self.id_column,
            "missing_codes": list(self.missing_codes), "group": self.group,
            "scales": {s.id: {"name": s.name, "items": list(s.items)} for s in self.scales},
            "reverse": list(self.reverse),
            "missing": {"statistics": self.statistics_missing, "cfa": self.cfa_missing},
            "efa": {"n_factors": self.efa.n_factors, "method": self.efa.method, "rotation": self.efa.rotation,
                    "corr": self.efa.corr},
            "parallel_analysis": {"iterations": self.parallel_iterations},
            "cfa": {"model": self.cfa.model if self.cfa.model is not None else FROM_FORM,
                    "estimator": self.cfa.estimator, "ordered": self.cfa.ordered},
            "invariance": self.invariance, "irt": self.irt, "bootstrap": self.bootstrap, "seed": self.seed,
        }


class _Problems:
    """The problems found in one plan, reported together."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.found: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.found.append((line, f"{self.path}:{line}: {message}"))

    def raise_if_any(self) -> None:
        if self.found:
            # in file order, so the list reads like the file
            raise PlanError("\n".join(message for _, message in sorted(self.found, key=lambda f: f[0])))


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _short_list(values: list[str], limit: int = 12) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _check_keys(mapping: LocatedDict, allowed: tuple[str, ...], where: str, problems: _Problems) -> None:
    for key in mapping:
        if key not in allowed:
            problems.add(mapping.line_of(key), f"{where}unknown key '{key}'{_suggest(key, allowed)} "
                                               f"(allowed: {', '.join(allowed)})")


def _section(document: LocatedDict, key: str, allowed: tuple[str, ...], problems: _Problems) -> LocatedDict:
    """A nested mapping of the plan (empty when absent), its keys checked."""
    value = document.get(key)
    if value is None:
        empty = LocatedDict()
        empty.line, empty.key_lines = document.line_of(key), {}
        return empty
    if not isinstance(value, LocatedDict):
        problems.add(document.line_of(key), f"{key}: expected a mapping with keys {', '.join(allowed)}, "
                                            f"found {_describe(value)}")
        empty = LocatedDict()
        empty.line, empty.key_lines = document.line_of(key), {}
        return empty
    _check_keys(value, allowed, f"{key}: ", problems)
    return value


def _describe(value: Any) -> str:
    return f"'{value}'" if isinstance(value, (str, int, float, bool)) else type(value).__name__


def _choice(mapping: LocatedDict, key: str, choices: tuple[str, ...], default: str, where: str,
            problems: _Problems, *, upper: bool = False) -> str:
    value = mapping.get(key, default)
    if value is None:
        return default
    text = str(value).upper() if upper else str(value).lower()
    if not isinstance(value, str) or text not in choices:
        problems.add(mapping.line_of(key), f"{where}{key}: '{value}' is not an option{_suggest(str(value), choices)};"
                                           f" choose one of {', '.join(choices)}")
        return default
    return text


def _boolean(mapping: LocatedDict, key: str, default: bool, where: str, problems: _Problems) -> bool:
    value = mapping.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        problems.add(mapping.line_of(key), f"{where}{key}: '{value}' is not an option; write true or false "
                                           "(on/off and yes/no work too)")
        return default
    return value


def _whole_number(mapping: LocatedDict, key: str, default: int, minimum: int, where: str,
                  problems: _Problems) -> int:
    value = mapping.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.add(mapping.line_of(key), f"{where}{key}: '{value}' is not an option; give a whole number "
                                           f"of at least {minimum}")
        return default
    return value


def _item_list(value: Any, line: int, where: str, known: list[str], form: Form, problems: _Problems
               ) -> tuple[str, ...]:
    """A list of item ids, each checked against the form (with its own line when the list is multi-line)."""
    if not isinstance(value, list):
        problems.add(line, f"{where}: expected a list of item ids, found {_describe(value)}")
        return ()
    lines = value.item_lines if isinstance(value, LocatedList) else [line] * len(value)
    items: list[str] = []
    for entry, entry_line in zip(value, lines, strict=True):
        item_id = str(entry)
        if item_id not in known:
            problems.add(entry_line, f"{where}: unknown item '{item_id}'{_suggest(item_id, known)}: form "
                                     f"'{form.id}' has no such item; use one of its item ids")
        elif item_id in items:
            problems.add(entry_line, f"{where}: item '{item_id}' is listed twice")
        else:
            items.append(item_id)
    return tuple(items)


def _load_plan_form(document: LocatedDict, directory: Path, problems: _Problems) -> Form | None:
    value = document.get("form")
    if not isinstance(value, str) or not value.strip():
        problems.add(document.line_of("form") if "form" in document else document.line,
                     "form: the plan must name a form (a name under items/forms/, e.g. research, or a path)")
        return None
    name: str | Path = value.strip()
    if str(name).endswith((".yaml", ".yml")) and not Path(name).is_absolute():
        name = directory / name
    try:
        return load_form(name)
    except BankError as error:
        problems.add(document.line_of("form"), f"form: {error}")
        return None


def _scales(document: LocatedDict, form: Form, problems: _Problems) -> tuple[PlanScale, ...]:
    value = document.get("scales", FROM_FORM)
    line = document.line_of("scales")
    form_scales = {s.id: s for s in form.scales}
    if value is None or value == FROM_FORM:
        return tuple(PlanScale(s.id, s.name, s.items) for s in form.scales if len(s.items) >= 2)
    if not isinstance(value, list) or not value:
        problems.add(line, f"scales: expected '{FROM_FORM}' or a list of scales ({{id: connection}}, or "
                           f"{{id: ..., name: ..., items: [...]}}), found {_describe(value)}")
        return ()
    scales: list[PlanScale] = []
    entry_lines = value.item_lines if isinstance(value, LocatedList) else [line] * len(value)
    for entry, entry_line in zip(value, entry_lines, strict=True):
        if isinstance(entry, str):
            entry_map = LocatedDict({"id": entry})
            entry_map.line, entry_map.key_lines = entry_line, {"id": entry_line}
            entry = entry_map
        if not isinstance(entry, LocatedDict):
            problems.add(entry_line, f"scales: expected a scale id or a mapping {{id, name, items}}, "
                                     f"found {_describe(entry)}")
            continue
        _check_keys(entry, SCALE_KEYS, "scales: ", problems)
        scale_id = entry.get("id")
        if not isinstance(scale_id, str) or not scale_id:
            problems.add(entry.line, "scales: every scale needs an id")
            continue
        if scale_id in (s.id for s in scales):
            problems.add(entry.line_of("id"), f"scales: scale '{scale_id}' is listed twice")
            continue
        if "items" in entry:
            items = _item_list(entry["items"], entry.line_of("items"), f"scales: '{scale_id}'", form.item_ids,
                               form, problems)
        elif scale_id in form_scales:
            items = form_scales[scale_id].items
        else:
            problems.add(entry.line_of("id"), f"scales: '{scale_id}' is not a scale of form '{form.id}'"
                                              f"{_suggest(scale_id, form_scales)} (its scales: "
                                              f"{', '.join(form_scales)}); give items: to define a new scale")
            continue
        if items and len(items) < 2:
            problems.add(entry.line, f"scales: '{scale_id}' has {len(items)} item; a scale needs at least two")
            continue
        default_name = form_scales[scale_id].name if scale_id in form_scales else scale_id
        scales.append(PlanScale(scale_id, str(entry.get("name") or default_name), items))
    return tuple(scales)


def _n_factors(efa: LocatedDict, problems: _Problems) -> int | str:
    value = efa.get("n_factors", "parallel")
    if value is None:
        return "parallel"
    if isinstance(value, bool) or not (isinstance(value, int) and value >= 1 or value in N_FACTOR_RULES):
        problems.add(efa.line_of("n_factors"), f"efa: n_factors: '{value}' is not an option; give a whole number "
                                               "of factors, 'parallel' (parallel analysis decides) or 'scales' "
                                               "(one factor per scale)")
        return "parallel"
    return value


def _cfa_model(cfa: LocatedDict, form: Form, plan_lines: list[str], problems: _Problems) -> str | None:
    value = cfa.get("model", FROM_FORM)
    if value is None or value == FROM_FORM:
        return None
    line = cfa.line_of("model")
    if not isinstance(value, str) or not value.strip():
        problems.add(line, f"cfa: model: expected '{FROM_FORM}' or lavaan model syntax, found {_describe(value)}")
        return None
    from rctscale.psychometrics.sem.syntax import parse_model

    # A block scalar (model: | or >) starts on the line below its key; the parser counts lines from 1.
    after_key = plan_lines[line - 1].split(":", 1)[1].strip() if 0 < line <= len(plan_lines) else ""
    first_line = line + 1 if after_key[:1] in ("|", ">") else line
    try:
        terms = parse_model(value)
    except ModelError as error:
        found = re.match(r"line (\d+): (.*)", str(error), re.DOTALL)
        where, message = (first_line + int(found.group(1)) - 1, found.group(2)) if found else (first_line, str(error))
        problems.add(where, f"cfa: model: {message}")
        return None
    latent = {t.lhs for t in terms if t.op == "=~"}
    for term in terms:
        for name in (term.lhs, term.rhs):
            if name in latent or name == "1" or name in form.item_ids:
                continue
            problems.add(first_line + term.line - 1,
                         f"cfa: model: unknown item '{name}'{_suggest(name, form.item_ids)}: form '{form.id}' has "
                         "no such item and the model defines no such factor")
    return value


def load_plan(path: str | Path) -> Plan:
    """Read and check an analysis plan; raises :class:`PlanError` naming file and line."""
    plan_path = Path(path)
    try:
        text = plan_path.read_text(encoding="utf-8")
        document = read_yaml(plan_path)
    except FileNotFoundError:
        raise PlanError(f"{plan_path}: analysis plan not found") from None
    except UnicodeDecodeError as error:
        raise PlanError(f"{plan_path}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
                        ) from None
    except BankError as error:  # the YAML reader's syntax errors already name file and line
        raise PlanError(str(error)) from None
    if not isinstance(document, LocatedDict):
        raise PlanError(f"{plan_path}:1: an analysis plan is a YAML mapping (plan:, data:, form:, ...), "
                        f"found {_describe(document)}")
    problems = _Problems(plan_path)
    _check_keys(document, PLAN_KEYS, "", problems)
    directory = plan_path.resolve().parent
    form = _load_plan_form(document, directory, problems)
    if form is None:
        problems.raise_if_any()
        raise AssertionError("unreachable: a plan without a form has a problem recorded")

    data_value = document.get("data")
    data = None
    if data_value is not None:
        if not isinstance(data_value, str) or not data_value.strip():
            problems.add(document.line_of("data"), f"data: expected a file path, found {_describe(data_value)}")
        else:
            # normpath, not resolve: "analysis/../reports/x.csv" reads as "reports/x.csv" in messages
            given = Path(data_value)
            data = given if given.is_absolute() else Path(os.path.normpath(directory / given))

    def text_value(key: str, default: str | None) -> str | None:
        value = document.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            problems.add(document.line_of(key), f"{key}: expected text, found {_describe(value)}")
            return default
        return value.strip()

    name = text_value("plan", plan_path.stem) or plan_path.stem
    title = text_value("title", f"Validation of {form.title}") or form.title
    id_column = text_value("id_column", DEFAULT_ID_COLUMN) or DEFAULT_ID_COLUMN
    group = text_value("group", None)
    codes = document.get("missing_codes", list(DEFAULT_MISSING_CODES))
    if not isinstance(codes, list):
        problems.add(document.line_of("missing_codes"), "missing_codes: expected a list of codes, e.g. ['', NA, -99]")
        codes = list(DEFAULT_MISSING_CODES)

    scales = _scales(document, form, problems)
    reverse_value = document.get("reverse", FROM_FORM)
    if reverse_value is None or reverse_value == FROM_FORM:
        reverse = tuple(form.reverse_keyed())
    else:
        reverse = _item_list(reverse_value, document.line_of("reverse"), "reverse", form.item_ids, form, problems)

    missing = _section(document, "missing", MISSING_KEYS, problems)
    statistics_missing = _choice(missing, "statistics", STATISTICS_MISSING, "pairwise", "missing: ", problems)
    cfa_missing = _choice(missing, "cfa", CFA_MISSING, "listwise", "missing: ", problems)

    efa_map = _section(document, "efa", EFA_KEYS, problems)
    efa = EFASettings(
        n_factors=_n_factors(efa_map, problems),
        method=_choice(efa_map, "method", EFA_METHODS, "minres", "efa: ", problems),
        rotation=_choice(efa_map, "rotation", EFA_ROTATIONS, "oblimin", "efa: ", problems),
        corr=_choice(efa_map, "corr", CORRELATIONS, "pearson", "efa: ", problems),
    )
    parallel = _section(document, "parallel_analysis", PARALLEL_KEYS, problems)
    parallel_iterations = _whole_number(parallel, "iterations", 20, 1, "parallel_analysis: ", problems)

    cfa_map = _section(document, "cfa", CFA_KEYS, problems)
    estimator = _choice(cfa_map, "estimator", ESTIMATORS, "ML", "cfa: ", problems, upper=True)
    ordered = _boolean(cfa_map, "ordered", estimator == "WLSMV", "cfa: ", problems)
    if ordered and estimator == "ML":
        problems.add(cfa_map.line_of("ordered"), "cfa: ordered: true needs estimator: WLSMV (ML treats the "
                                                 "answers as continuous); set estimator: WLSMV or ordered: false")
    if estimator == "WLSMV" and not ordered:
        problems.add(cfa_map.line_of("ordered"), "cfa: estimator WLSMV is for ordered items; set ordered: true "
                                                 "or estimator: ML")
    if estimator == "WLSMV" and cfa_missing == "fiml":
        problems.add(missing.line_of("cfa"), "missing: cfa: fiml is not available with estimator WLSMV (lavaan "
                                             "uses listwise deletion there); set cfa: listwise or estimator: ML")
    cfa = CFASettings(model=_cfa_model(cfa_map, form, text.splitlines(), problems), estimator=estimator,
                      ordered=ordered)

    invariance = _boolean(document, "invariance", group is not None, "", problems)
    if invariance and group is None:
        problems.add(document.line_of("invariance"), "invariance: true needs a grouping column; set group: to the "
                                                     "column that holds the groups, or invariance: false")
    irt = _boolean(document, "irt", True, "", problems)
    bootstrap = _whole_number(document, "bootstrap", 0, 0, "", problems)
    if 0 < bootstrap < 50:
        problems.add(document.line_of("bootstrap"), f"bootstrap: {bootstrap} draws are too few for a 95 % interval;"
                                                    " give 0 (no bootstrap) or at least 50 (1000 for publication)")
    seed = _whole_number(document, "seed", 0, 0, "", problems)
    problems.raise_if_any()
    return Plan(
        path=plan_path, name=name, title=title, data=data, form=form, id_column=id_column,
        missing_codes=tuple(str(c) if c is not None else "" for c in codes), group=group, scales=scales,
        reverse=reverse, statistics_missing=statistics_missing, cfa_missing=cfa_missing, efa=efa,
        parallel_iterations=parallel_iterations, cfa=cfa, invariance=invariance, irt=irt, bootstrap=bootstrap,
        seed=seed, text=text, content_hash="sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest(),
        key_lines=dict(document.key_lines), id_column_stated="id_column" in document,
    )


SHIPPED_PLANS_PACKAGE = "rctscale.plans"


def shipped_plan_path(name: str) -> Path:
    """A plan shipped with rctscale (``analysis/NAME.yaml``): in the wheel as ``rctscale.plans``, else in the
    source tree beside the package."""
    import importlib.util

    spec = importlib.util.find_spec(SHIPPED_PLANS_PACKAGE)
    directories = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    directories.append(Path(__file__).resolve().parents[1] / "analysis")
    for directory in directories:
        candidate = directory / f"{name}.yaml"
        if candidate.exists():
            return candidate
    raise PlanError(f"no shipped analysis plan named '{name}' (looked in {', '.join(map(str, directories))})")


def default_plan(form: Form, *, group: str | None = None, seed: int = 0, bootstrap: int = 0,
                 n_factors: int | str = "parallel") -> Plan:
    """The plan ``validate_sample`` runs when no plan file is given: every analysis with its defaults."""
    text = f"# default plan for form {form.id}\nform: {form.id}\n"
    return Plan(
        path=Path("<default plan>"), name=f"{form.id}_default", title=f"Validation of {form.title}", data=None,
        form=form, id_column=DEFAULT_ID_COLUMN, missing_codes=DEFAULT_MISSING_CODES, group=group,
        scales=tuple(PlanScale(s.id, s.name, s.items) for s in form.scales if len(s.items) >= 2),
        reverse=tuple(form.reverse_keyed()), statistics_missing="pairwise", cfa_missing="listwise",
        efa=EFASettings(n_factors=n_factors), parallel_iterations=20, cfa=CFASettings(model=None),
        invariance=group is not None, irt=True, bootstrap=bootstrap, seed=seed, text=text,
        content_hash="sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
