"""Computerized adaptive testing (CAT) on a graded-response item bank, PROMIS style.

A CAT asks one item at a time: it estimates the trait from the answers so far (EAP, with its
posterior SD as standard error), picks the next item that tells most about a respondent at that
estimate, and stops once the estimate is precise enough. The rules, all configurable in
:class:`CATRules`:

* **Start** — a stated first item, or the most informative item at ``start_theta`` (0, the
  population mean).
* **Selection** — maximum Fisher information at the current EAP (``"MFI"``), or maximum
  posterior-weighted information (``"MPWI"``, van der Linden, 1998): the item information averaged
  over the current posterior, more robust while the posterior is still wide.
* **Content balancing** — with ``facets`` (item -> facet), every facet is asked once before any is
  asked twice; after that the next facet is the one furthest below its target share of the items
  asked so far (Kingsbury & Zara, 1989), and the item is the most informative within it.
* **Exposure control** — the randomesque method (Kingsbury & Zara, 1989): choose at random among
  the ``randomesque`` most informative eligible items, so the best items are not shown to
  everyone. The draw is seeded by the session's seed and the number of items asked, so a resumed
  session picks the same item again.
* **Stop** — after ``max_items`` items (12), or when the standard error is below ``se_target``
  (0.3, a reliability of about 0.91) once ``min_items`` (4) have been asked, or when the bank is
  used up.

A session's whole state is a :class:`CATState`: the items asked, in order, their answers and a
seed, small enough for a web form to keep in a hidden field or a database row and to resume
from. :class:`CATSession` holds the bank and the rules; its methods are pure functions of a state.
:func:`simulate_cat` runs the same engine (the same selection code, vectorized over simulated
respondents) to show what a CAT would cost and how well it agrees with the full bank.

References
----------
Kingsbury, G. G., & Zara, A. R. (1989). Procedures for selecting items for computerized
adaptive tests. *Applied Measurement in Education*, 2(4), 359–375.
van der Linden, W. J. (1998). Bayesian item selection criteria for adaptive testing.
*Psychometrika*, 63(2), 201–216.
Choi, S. W., & Swartz, R. J. (2009). Comparison of CAT item selection criteria for polytomous
items. *Applied Psychological Measurement*, 33(6), 419–440.
Cella, D., et al. (2010). The Patient-Reported Outcomes Measurement Information System
(PROMIS) developed and tested its first wave of adult self-reported health outcome item banks.
*Journal of Clinical Epidemiology*, 63(11), 1179–1194.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from rctscale.errors import AnalysisError
from rctscale.psychometrics._result import Result
from rctscale.psychometrics.irt import (
    DEFAULT_QUADRATURE_POINTS,
    DEFAULT_THETA_LIMITS,
    T_SCORE_MEAN,
    T_SCORE_SD,
    GradedItems,
    GRMResult,
    _information,
    eap_from_codes,
    graded_items,
    quadrature,
)

__all__ = [
    "CATEstimate",
    "CATRules",
    "CATSession",
    "CATSimulationResult",
    "CATState",
    "simulate_cat",
]

SelectionRule = Literal["MFI", "MPWI"]
# Two criteria closer than this are a tie (floating-point noise, not information).
_TIE = 1e-12
# Codes in the asked-items matrix: not asked, and asked but declined ("prefer not to answer").
_NOT_ASKED = -1
_DECLINED = -2


@dataclass(frozen=True)
class CATRules:
    """The rules of an adaptive test. Defaults follow PROMIS CATs: SE < 0.3, 4 to 12 items.

    Attributes
    ----------
    selection : "MFI" or "MPWI"
        Maximum Fisher information at the current EAP, or maximum posterior-weighted information.
    start_item : str or None
        The first item for everyone; otherwise the most informative at ``start_theta``.
    start_theta : float
        Where the first item is chosen by information (MFI; MPWI uses the prior).
    min_items, max_items : int
        Ask at least ``min_items`` before the SE rule may stop, and never more than ``max_items``.
    se_target : float
        Stop when the posterior SD falls below this (theta metric; 0.3 = 3 T-score points).
    randomesque : int
        Choose at random among this many of the most informative eligible items (1 = always the
        best).
    facets : mapping or None
        Item -> facet (content area) for content balancing; every item of the bank needs one.
    facet_targets : mapping or None
        Facet -> target share of the items asked (normalized to sum to one); equal by default.
    prior_mean, prior_sd : float
        The normal prior of the EAP estimates.
    n_quadrature, theta_limits
        Nodes of the EAP integral (mirt's default: 61 on [-6, 6]).
    """

    selection: SelectionRule = "MFI"
    start_item: str | None = None
    start_theta: float = 0.0
    min_items: int = 4
    max_items: int = 12
    se_target: float = 0.3
    randomesque: int = 1
    facets: Mapping[str, str] | None = None
    facet_targets: Mapping[str, float] | None = None
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    n_quadrature: int = DEFAULT_QUADRATURE_POINTS
    theta_limits: tuple[float, float] = DEFAULT_THETA_LIMITS

    def __post_init__(self) -> None:
        if self.selection not in ("MFI", "MPWI"):
            raise AnalysisError(f"selection must be 'MFI' or 'MPWI', got {self.selection!r}")
        if self.min_items < 1 or self.max_items < self.min_items:
            raise AnalysisError(f"need 1 <= min_items <= max_items, got min_items={self.min_items}, "
                                f"max_items={self.max_items}")
        if not self.se_target > 0:
            raise AnalysisError(f"se_target must be positive, got {self.se_target}")
        if self.randomesque < 1:
            raise AnalysisError(f"randomesque must be at least 1 (1 = no exposure control), got {self.randomesque}")
        if not self.prior_sd > 0:
            raise AnalysisError(f"prior_sd must be positive, got {self.prior_sd}")


@dataclass(frozen=True)
class CATState:
    """What a session has asked and heard so far: enough to resume it anywhere.

    ``items`` are the item ids in the order asked; ``answers`` the answers given (``None`` for
    "prefer not to answer"); ``seed`` drives the randomesque draws.
    """

    items: tuple[str, ...] = ()
    answers: tuple[float | None, ...] = ()
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"items": [...], "answers": [...], "seed": n}``."""
        return {"items": list(self.items), "answers": list(self.answers), "seed": int(self.seed)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CATState:
        """The state :meth:`to_dict` wrote (answers may come back as ints or floats)."""
        try:
            items = tuple(str(i) for i in data.get("items", ()))
            answers = tuple(None if a is None else float(a) for a in data.get("answers", ()))
            seed = int(data.get("seed", 0))
        except (TypeError, ValueError) as error:
            raise AnalysisError(f"not a CAT state: {error}") from None
        if len(items) != len(answers):
            raise AnalysisError(f"a CAT state needs one answer per item, got {len(items)} items and "
                                f"{len(answers)} answers")
        return cls(items, answers, seed)


@dataclass(frozen=True)
class CATEstimate(Result):
    """The trait estimate of a session: EAP ``theta``, posterior SD ``se``, and the T metric."""

    theta: float
    se: float
    t_score: float
    t_se: float
    n_items: int
    n_answered: int
    stop_reason: str | None


# --------------------------------------------------------------------------------------------
# The engine: vectorized over respondents so one code path serves a session and a simulation
# --------------------------------------------------------------------------------------------


class _Engine:
    """Bank arrays and rules, with the estimation, stopping and selection steps on batches.

    ``asked`` is a (respondents x items) matrix of category codes: -1 not asked, -2 asked and
    declined, 0 .. K-1 the answer's category.
    """

    def __init__(self, items: GradedItems, rules: CATRules) -> None:
        self.items = items
        self.rules = rules
        self.nodes, _ = quadrature(rules.n_quadrature, rules.theta_limits)
        self.log_prior = stats.norm.logpdf(self.nodes, rules.prior_mean, rules.prior_sd)
        self.node_information = _information(items.slopes, items.intercepts, self.nodes)  # items x nodes
        self.position = {name: j for j, name in enumerate(items.names)}
        if rules.start_item is not None and rules.start_item not in self.position:
            raise AnalysisError(f"start_item '{rules.start_item}' is not an item of the bank")
        self.facet_of_item, self.facet_names, self.targets = self._facets(rules)

    def _facets(self, rules: CATRules) -> tuple[np.ndarray | None, tuple[str, ...], np.ndarray | None]:
        if rules.facets is None:
            if rules.facet_targets is not None:
                raise AnalysisError("facet_targets needs facets (item -> facet)")
            return None, (), None
        missing = [name for name in self.items.names if name not in rules.facets]
        if missing:
            raise AnalysisError(f"item(s) {', '.join(repr(m) for m in missing[:5])} have no facet; content "
                                "balancing needs a facet for every item of the bank")
        names = tuple(dict.fromkeys(str(rules.facets[name]) for name in self.items.names))
        facet_of_item = np.array([names.index(str(rules.facets[name])) for name in self.items.names])
        if rules.facet_targets is None:
            targets = np.full(len(names), 1.0 / len(names))
        else:
            unknown = [f for f in rules.facet_targets if str(f) not in names]
            if unknown:
                raise AnalysisError(f"facet_targets names facet(s) with no item in the bank: "
                                    f"{', '.join(repr(u) for u in unknown)}")
            targets = np.array([float(rules.facet_targets.get(f, 0.0)) for f in names])
            if np.any(targets < 0) or targets.sum() <= 0:
                raise AnalysisError("facet_targets must be non-negative shares with a positive sum")
            targets = targets / targets.sum()
        return facet_of_item, names, targets

    def estimate(self, asked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes = np.where(asked >= 0, asked, -1)
        return eap_from_codes(self.items, codes, self.nodes, self.log_prior)

    def stop_reasons(self, asked: np.ndarray, se: np.ndarray) -> list[str | None]:
        n_asked = (asked != _NOT_ASKED).sum(axis=1)
        reasons: list[str | None] = []
        for count, error, remaining in zip(n_asked, se, (asked == _NOT_ASKED).any(axis=1), strict=True):
            if count >= self.rules.max_items:
                reasons.append("max_items")
            elif count >= self.rules.min_items and error < self.rules.se_target:
                reasons.append("se_target")
            elif not remaining:
                reasons.append("bank_exhausted")
            else:
                reasons.append(None)
        return reasons

    def criterion(self, asked: np.ndarray, theta: np.ndarray, posterior: np.ndarray) -> np.ndarray:
        """Selection criterion of every item for every respondent (respondents x items)."""
        if self.rules.selection == "MPWI":
            return posterior @ self.node_information.T
        n_asked = (asked != _NOT_ASKED).sum(axis=1)
        at = np.where(n_asked == 0, self.rules.start_theta, theta)
        return _information(self.items.slopes, self.items.intercepts, at).T

    def eligible(self, asked: np.ndarray) -> np.ndarray:
        """Items that may be asked next: not asked yet, and in a facet the balancing rule picks."""
        available = asked == _NOT_ASKED
        if self.facet_of_item is None:
            return available
        n_facets = len(self.facet_names)
        one_hot = np.eye(n_facets, dtype=bool)[self.facet_of_item]  # items x facets
        counts = (~available).astype(float) @ one_hot
        has_items = available.astype(float) @ one_hot > 0
        n_asked = (~available).sum(axis=1, keepdims=True)
        deficit = self.targets[None, :] - counts / np.maximum(n_asked, 1)
        uncovered = has_items & (counts == 0)
        # Every facet once before any facet twice; then the facet furthest below its share.
        candidates = np.where(uncovered.any(axis=1, keepdims=True), uncovered, has_items)
        best = np.max(np.where(candidates, deficit, -np.inf), axis=1, keepdims=True)
        chosen_facets = candidates & (deficit >= best - _TIE)
        return available & chosen_facets[:, self.facet_of_item]

    def select(self, asked: np.ndarray, theta: np.ndarray, posterior: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Next item position for each respondent (-1 when nothing is left)."""
        n_asked = (asked != _NOT_ASKED).sum(axis=1)
        eligible = self.eligible(asked)
        score = np.where(eligible, self.criterion(asked, theta, posterior), -np.inf)
        chosen = np.full(len(asked), -1)
        start = self.rules.start_item
        for row in range(len(asked)):
            if start is not None and n_asked[row] == 0:
                chosen[row] = self.position[start]
                continue
            n_eligible = int(eligible[row].sum())
            if n_eligible == 0:
                continue
            k = min(self.rules.randomesque, n_eligible)
            # A stable sort so that equal information always ranks items in bank order.
            ranked = np.argsort(-score[row], kind="stable")[:k]
            if k == 1:
                chosen[row] = ranked[0]
            else:
                draw = np.random.default_rng([int(seeds[row]), int(n_asked[row])]).integers(k)
                chosen[row] = ranked[draw]
        return chosen


# --------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------


class CATSession:
    """An adaptive test on a GRM item bank; every method is a pure function of a :class:`CATState`.

    Parameters
    ----------
    parameters : DataFrame or GRMResult
        The item bank: items x ``a`` and ``d1..`` or ``b1..`` (see
        :func:`rctscale.psychometrics.irt.graded_items`), or a fitted model.
    rules : CATRules, optional
        The test's rules; keyword arguments override single rules (``max_items=8``).
    categories, first_category
        The answer values of each item's categories, when ``parameters`` is a table.

    Example
    -------
    >>> import pandas as pd
    >>> from rctscale.psychometrics.cat import CATSession
    >>> bank = pd.DataFrame({"a": [1.2, 2.0, 1.6, 2.4, 1.0],
    ...                      "b1": [-1.5, -1.0, -0.5, 0.0, 0.5], "b2": [0.0, 0.2, 0.8, 1.0, 1.8]},
    ...                     index=["q1", "q2", "q3", "q4", "q5"])
    >>> session = CATSession(bank, min_items=2, max_items=3)
    >>> state = session.start(seed=1)
    >>> session.next_item(state)
    'q4'
    >>> state = session.update(state, "q4", 2)
    >>> session.next_item(state)
    'q3'
    >>> CATState.from_dict(state.to_dict()) == state
    True
    """

    def __init__(self, parameters: pd.DataFrame | GRMResult, rules: CATRules | None = None, *,
                 categories: Mapping[str, Sequence[float]] | None = None, first_category: float = 0,
                 **rule_overrides: Any) -> None:
        rules = dataclasses.replace(rules or CATRules(), **rule_overrides)
        self.items = graded_items(parameters, categories=categories, first_category=first_category)
        self.rules = rules
        self._engine = _Engine(self.items, rules)

    @property
    def item_ids(self) -> tuple[str, ...]:
        return self.items.names

    def start(self, seed: int | None = None) -> CATState:
        """A new, empty session; without a seed one is drawn at random (exposure control)."""
        return CATState((), (), secrets.randbits(63) if seed is None else int(seed))

    def _asked(self, state: CATState) -> np.ndarray:
        if len(state.items) != len(state.answers):
            raise AnalysisError(f"a CAT state needs one answer per item, got {len(state.items)} items and "
                                f"{len(state.answers)} answers")
        asked = np.full((1, len(self.items)), _NOT_ASKED)
        for item, answer in zip(state.items, state.answers, strict=True):
            j = self.position(item)
            if asked[0, j] != _NOT_ASKED:
                raise AnalysisError(f"item '{item}' appears twice in the CAT state")
            asked[0, j] = _DECLINED if answer is None else self._code(j, answer)
        return asked

    def position(self, item: str) -> int:
        try:
            return self._engine.position[item]
        except KeyError:
            raise AnalysisError(f"item '{item}' is not in the CAT's item bank") from None

    def _code(self, j: int, answer: float) -> int:
        values = self.items.categories[j]
        try:
            return values.index(float(answer))
        except (ValueError, TypeError):
            allowed = ", ".join(f"{v:g}" for v in values)
            raise AnalysisError(f"item '{self.items.names[j]}': answer {answer!r} is not one of its categories "
                                f"({allowed})") from None

    def update(self, state: CATState, item: str, answer: float | None) -> CATState:
        """The state after ``item`` was answered (``None``: asked, but the respondent declined)."""
        j = self.position(item)
        if item in state.items:
            raise AnalysisError(f"item '{item}' was already asked in this session")
        if answer is not None:
            self._code(j, answer)
        return CATState(state.items + (item,), state.answers + (None if answer is None else float(answer),),
                        state.seed)

    def stop_reason(self, state: CATState) -> str | None:
        """Why the test is over (``"max_items"``, ``"se_target"``, ``"bank_exhausted"``) or None."""
        asked = self._asked(state)
        _, se, _ = self._engine.estimate(asked)
        return self._engine.stop_reasons(asked, se)[0]

    def should_stop(self, state: CATState) -> bool:
        """Whether the stopping rule is met."""
        return self.stop_reason(state) is not None

    def next_item(self, state: CATState) -> str | None:
        """The item to ask next, or None when the test is over. The same state gives the same item."""
        asked = self._asked(state)
        theta, se, posterior = self._engine.estimate(asked)
        if self._engine.stop_reasons(asked, se)[0] is not None:
            return None
        chosen = self._engine.select(asked, theta, posterior, np.array([state.seed]))[0]
        return None if chosen < 0 else self.items.names[chosen]

    def estimate(self, state: CATState) -> CATEstimate:
        """EAP and posterior SD from the answers so far, on the theta and T metrics."""
        asked = self._asked(state)
        theta, se, _ = self._engine.estimate(asked)
        return CATEstimate(
            theta=float(theta[0]), se=float(se[0]),
            t_score=float(T_SCORE_MEAN + T_SCORE_SD * theta[0]), t_se=float(T_SCORE_SD * se[0]),
            n_items=len(state.items), n_answered=int((asked >= 0).sum()),
            stop_reason=self._engine.stop_reasons(asked, se)[0],
        )


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CATSimulationResult(Result):
    """What an adaptive test would do on simulated respondents, against the full bank.

    Attributes
    ----------
    mean_items : float
        Mean number of items asked.
    correlation_full_bank, correlation_true : float
        Pearson correlation of the CAT's EAP with the full-bank EAP and with the true theta.
    rmse_full_bank, rmse_true : float
        Root mean squared difference of the CAT's EAP from the full-bank EAP and the true theta.
    full_bank_correlation_true, full_bank_rmse_true : float
        The same for the full bank, for reference: the ceiling the CAT approaches.
    mean_se : float
        Mean posterior SD of the CAT estimates.
    conditional : DataFrame
        By true-theta bin: respondents, mean items, mean SE, RMSE vs true and vs full bank, bias.
    exposure : DataFrame
        Per item: share of respondents asked it (``rate``), and its facet.
    respondents : DataFrame
        Per respondent: true theta, CAT theta and SE, items asked (count, and ids and answers in
        order), stop reason, full-bank theta and SE, and the session seed (to replay the session
        with a :class:`CATSession`).
    options : dict
        The rules and the simulation settings.
    """

    mean_items: float
    correlation_full_bank: float
    correlation_true: float
    rmse_full_bank: float
    rmse_true: float
    full_bank_correlation_true: float
    full_bank_rmse_true: float
    mean_se: float
    conditional: pd.DataFrame
    exposure: pd.DataFrame
    respondents: pd.DataFrame = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        o = self.options
        lines = [
            f"CAT simulation: {o['n']} respondents (theta {o['theta']}), bank of {o['bank_size']} items, "
            f"{o['selection']}, SE < {o['se_target']}, {o['min_items']}-{o['max_items']} items, "
            f"randomesque {o['randomesque']}" + (", content-balanced" if o.get("facets") else ""),
            f"  mean items {self.mean_items:.2f}, mean SE {self.mean_se:.3f}",
            f"  CAT vs full bank: r = {self.correlation_full_bank:.4f}, RMSE = {self.rmse_full_bank:.3f}",
            f"  CAT vs true theta: r = {self.correlation_true:.4f}, RMSE = {self.rmse_true:.3f} "
            f"(full bank: r = {self.full_bank_correlation_true:.4f}, RMSE = {self.full_bank_rmse_true:.3f})",
            f"  highest item exposure {self.exposure['rate'].max():.2f}; items never asked "
            f"{int((self.exposure['rate'] == 0).sum())}",
            "",
            "By true theta:",
            self.conditional.to_string(float_format=lambda v: f"{v:.3f}"),
        ]
        return "\n".join(lines)


def _draw_answers(items: GradedItems, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Category codes drawn from the GRM at each theta (respondents x items)."""
    extended = np.where(np.isnan(items.intercepts), -np.inf, items.intercepts)
    at_least = special.expit(items.slopes[None, :, None] * theta[:, None, None] + extended[None, :, :])
    uniform = rng.random((len(theta), len(items)))
    return (uniform[:, :, None] < at_least).sum(axis=2)


def simulate_cat(
    parameters: pd.DataFrame | GRMResult,
    n: int = 1000,
    seed: int | None = 0,
    facets: Mapping[str, str] | None = None,
    rules: CATRules | None = None,
    *,
    theta: Literal["normal", "uniform", "grid"] | Sequence[float] | np.ndarray = "normal",
    bins: Sequence[float] = (-np.inf, -2.0, -1.0, 0.0, 1.0, 2.0, np.inf),
    categories: Mapping[str, Sequence[float]] | None = None,
    first_category: float = 0,
    **rule_overrides: Any,
) -> CATSimulationResult:
    """Simulate adaptive tests on a GRM bank and compare them with the full bank.

    Each simulated respondent has a true theta (``"normal"``: N(0, 1); ``"uniform"``: U(-3, 3);
    ``"grid"``: ``n`` equally spaced values on [-3, 3]; or the values given), answers every item of
    the bank from the GRM, and takes the CAT (the :class:`CATSession` engine, with its own seed
    for the randomesque draws). The CAT's EAP is compared with the EAP from all the items and with
    the true theta.

    Parameters
    ----------
    parameters : DataFrame or GRMResult
        The item bank.
    n : int
        Simulated respondents (ignored when ``theta`` gives the values).
    seed : int
        Seeds the thetas, the answers and the sessions' seeds: the same seed, the same result.
    facets : mapping, optional
        Item -> facet for content balancing (overrides ``rules.facets``).
    rules : CATRules, optional
        The CAT's rules; keyword arguments override single rules.
    bins : sequence of float
        Edges of the true-theta bins of the conditional table.
    categories, first_category
        The answer values recorded in ``respondents["answers"]`` (as for :class:`CATSession`).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from rctscale.psychometrics.cat import simulate_cat
    >>> rng = np.random.default_rng(0)
    >>> bank = pd.DataFrame({"a": rng.uniform(1.5, 2.5, 20), "b1": rng.uniform(-2, -0.5, 20),
    ...                      "b2": rng.uniform(0.5, 2, 20)}, index=[f"q{i}" for i in range(20)])
    >>> result = simulate_cat(bank, n=200, seed=1, max_items=8)
    >>> result.mean_items <= 8, result.correlation_full_bank > 0.9
    (True, True)
    """
    rules = dataclasses.replace(rules or CATRules(), **rule_overrides)
    if facets is not None:
        rules = dataclasses.replace(rules, facets=facets)
    items = graded_items(parameters, categories=categories, first_category=first_category)
    engine = _Engine(items, rules)
    rng = np.random.default_rng(seed)
    if isinstance(theta, str):
        if n < 2:
            raise AnalysisError(f"simulate at least 2 respondents, got n={n}")
        if theta == "normal":
            true_theta = rng.standard_normal(n)
        elif theta == "uniform":
            true_theta = rng.uniform(-3.0, 3.0, n)
        elif theta == "grid":
            true_theta = np.linspace(-3.0, 3.0, n)
        else:
            raise AnalysisError(f"theta must be 'normal', 'uniform', 'grid' or a sequence of values, got {theta!r}")
    else:
        true_theta = np.asarray(theta, dtype=float)
        if true_theta.ndim != 1 or len(true_theta) < 2 or not np.all(np.isfinite(true_theta)):
            raise AnalysisError("theta values must be a 1-D sequence of at least 2 finite numbers")
    n = len(true_theta)
    answers = _draw_answers(items, true_theta, rng)
    session_seeds = rng.integers(0, 2**63 - 1, n)

    full_theta, full_se, _ = eap_from_codes(items, answers, engine.nodes, engine.log_prior)

    asked = np.full((n, len(items)), _NOT_ASKED)
    order: list[list[int]] = [[] for _ in range(n)]
    reasons: list[str | None] = [None] * n
    active = np.arange(n)
    cat_theta, cat_se = np.zeros(n), np.ones(n)
    while len(active):
        theta_now, se_now, posterior = engine.estimate(asked[active])
        cat_theta[active], cat_se[active] = theta_now, se_now
        stop = engine.stop_reasons(asked[active], se_now)
        going = np.array([reason is None for reason in stop])
        for row, reason in zip(active[~going], np.asarray(stop, dtype=object)[~going], strict=True):
            reasons[row] = reason
        active, theta_now, posterior = active[going], theta_now[going], posterior[going]
        if not len(active):
            break
        chosen = engine.select(asked[active], theta_now, posterior, session_seeds[active])
        if np.any(chosen < 0):  # cannot happen while items remain; guards an endless loop
            raise AnalysisError("the CAT found no item to ask although its stopping rule was not met")
        asked[active, chosen] = answers[active, chosen]
        for row, item in zip(active, chosen, strict=True):
            order[row].append(int(item))

    n_items = np.array([len(o) for o in order])
    respondents = pd.DataFrame({
        "true_theta": true_theta,
        "cat_theta": cat_theta,
        "cat_se": cat_se,
        "n_items": n_items,
        "items": [" ".join(items.names[j] for j in o) for o in order],
        "answers": [" ".join(f"{items.categories[j][answers[row, j]]:g}" for j in o) for row, o in enumerate(order)],
        "stop_reason": reasons,
        "full_theta": full_theta,
        "full_se": full_se,
        "session_seed": session_seeds,
    })
    respondents.index.name = "respondent"
    edges = np.asarray(bins, dtype=float)
    binned = pd.cut(respondents["true_theta"], edges)
    conditional = respondents.assign(
        error_true=(cat_theta - true_theta) ** 2, error_full=(cat_theta - full_theta) ** 2,
        bias=cat_theta - true_theta, bin=binned,
    ).groupby("bin", observed=False).agg(
        n=("true_theta", "size"), mean_items=("n_items", "mean"), mean_se=("cat_se", "mean"),
        mean_full_se=("full_se", "mean"), rmse_true=("error_true", "mean"), rmse_full_bank=("error_full", "mean"),
        bias=("bias", "mean"),
    )
    conditional[["rmse_true", "rmse_full_bank"]] = np.sqrt(conditional[["rmse_true", "rmse_full_bank"]])
    conditional.index = conditional.index.astype(str)
    exposure = pd.DataFrame({"rate": (asked != _NOT_ASKED).mean(axis=0)}, index=pd.Index(items.names, name="item"))
    if engine.facet_of_item is not None:
        exposure["facet"] = [engine.facet_names[f] for f in engine.facet_of_item]

    def correlation(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else math.nan

    def rmse(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.sqrt(np.mean((x - y) ** 2)))

    rule_options = {key: (dict(value) if isinstance(value, Mapping) else value)
                    for key, value in dataclasses.asdict(rules).items()}
    return CATSimulationResult(
        mean_items=float(n_items.mean()),
        correlation_full_bank=correlation(cat_theta, full_theta),
        correlation_true=correlation(cat_theta, true_theta),
        rmse_full_bank=rmse(cat_theta, full_theta),
        rmse_true=rmse(cat_theta, true_theta),
        full_bank_correlation_true=correlation(full_theta, true_theta),
        full_bank_rmse_true=rmse(full_theta, true_theta),
        mean_se=float(cat_se.mean()),
        conditional=conditional,
        exposure=exposure,
        respondents=respondents,
        options={"n": n, "seed": seed, "theta": theta if isinstance(theta, str) else "given",
                 "bank_size": len(items), **rule_options},
    )
