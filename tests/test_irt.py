"""The graded response model: parameter recovery, scores, information, errors.

Every check compares with something computed another way: known generating parameters,
numerical integrals, finite differences, or an independent 2PL fit by a general optimizer.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special, stats

from rctscale.errors import AnalysisError
from rctscale.psychometrics.irt import (
    category_probabilities,
    eap_scores,
    expected_score,
    graded_items,
    graded_response_model,
    item_information,
    quadrature,
    test_information,
)

# The project's conformance criterion for the GRM: RMSE of the recovered discriminations and
# thresholds on n = 5,000 simulated respondents.
RECOVERY_RMSE = 0.1
# EAP on 61 equally spaced nodes against an adaptive integral over the whole real line: the
# node rule is accurate to far better than this for smooth posteriors.
EAP_INTEGRAL_TOLERANCE = 1e-5
# Finite differences (central, h = 1e-5) of probabilities: truncation ~1e-10, rounding ~1e-11.
FINITE_DIFFERENCE_TOLERANCE = 1e-6
# Two maximizers of the same likelihood (EM to tol 1e-7 and BFGS to gtol 1e-6) agree to this.
SAME_MAXIMUM_PARAMETER_TOLERANCE = 1e-3
SAME_MAXIMUM_LOGLIK_TOLERANCE = 1e-5
# Louis standard errors against a numerical Hessian (central differences of an independent
# likelihood): both exact up to differencing error, relative.
STANDARD_ERROR_RELATIVE_TOLERANCE = 0.01


def simulate_grm(slopes: np.ndarray, thresholds: np.ndarray, n: int, seed: int, first_category: int = 1,
                 missing_rate: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Answers drawn from the logistic GRM with theta ~ N(0, 1) (written here, not in the package)."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(n)
    data = {}
    for j, (a, b) in enumerate(zip(slopes, thresholds, strict=True)):
        at_least = special.expit(a * (theta[:, None] - np.asarray(b)[None, :]))
        data[f"i{j + 1}"] = first_category + (rng.random(n)[:, None] < at_least).sum(axis=1)
    frame = pd.DataFrame(data).astype(float)
    if missing_rate:
        frame = frame.mask(rng.random(frame.shape) < missing_rate)
    return frame, theta


def generating_parameters(n_items: int, n_categories: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """a in [0.8, 2.5] and ordered b's in [-2, 2], at least 0.25 apart so no category is empty."""
    rng = np.random.default_rng(seed)
    slopes = rng.uniform(0.8, 2.5, n_items)
    thresholds = []
    while len(thresholds) < n_items:
        b = np.sort(rng.uniform(-2, 2, n_categories - 1))
        if np.all(np.diff(b) > 0.25):
            thresholds.append(b)
    return slopes, np.array(thresholds)


@pytest.fixture(scope="module")
def recovery() -> tuple[object, np.ndarray, np.ndarray, pd.DataFrame]:
    slopes, thresholds = generating_parameters(10, 5, seed=2024)
    data, _ = simulate_grm(slopes, thresholds, n=5000, seed=7)
    return graded_response_model(data), slopes, thresholds, data


def test_parameter_recovery(recovery) -> None:
    fit, slopes, thresholds, _ = recovery
    assert fit.converged
    rmse_a = np.sqrt(np.mean((fit.parameters["a"].to_numpy() - slopes) ** 2))
    rmse_b = np.sqrt(np.mean((fit.parameters[["b1", "b2", "b3", "b4"]].to_numpy() - thresholds) ** 2))
    assert rmse_a < RECOVERY_RMSE, rmse_a
    assert rmse_b < RECOVERY_RMSE, rmse_b
    # Most estimates lie within two standard errors of the truth: the SEs are of the right size.
    z_a = (fit.parameters["a"] - slopes) / fit.standard_errors["a"]
    assert np.mean(np.abs(z_a) < 2.5) >= 0.8


def test_parameter_table_layout(recovery) -> None:
    fit, _, _, data = recovery
    assert list(fit.parameters.columns) == ["a", "b1", "b2", "b3", "b4", "d1", "d2", "d3", "d4"]
    assert list(fit.parameters.index) == list(data.columns)
    # d = -a b, the slope-intercept metric mirt estimates in.
    d = fit.parameters[["d1", "d2", "d3", "d4"]].to_numpy()
    b = fit.parameters[["b1", "b2", "b3", "b4"]].to_numpy()
    np.testing.assert_allclose(d, -fit.parameters["a"].to_numpy()[:, None] * b)
    assert fit.n_parameters == 50
    assert fit.aic == pytest.approx(-2 * fit.loglik + 2 * 50)
    assert fit.bic == pytest.approx(-2 * fit.loglik + 50 * np.log(5000))
    assert fit.categories["i1"] == (1.0, 2.0, 3.0, 4.0, 5.0)
    json.dumps(fit.to_dict())  # a result is JSON-ready
    assert "Graded response model" in str(fit) and "logLik" in str(fit)


def test_eap_against_numerical_integral(recovery) -> None:
    fit, _, _, data = recovery
    answers = data.iloc[:5].copy()
    answers.iloc[1, :6] = np.nan  # a respondent who answered four items
    scores = fit.theta(answers)
    items = graded_items(fit)
    for row in range(len(answers)):
        answered = answers.iloc[row].dropna()

        def likelihood(t: float, answered: pd.Series = answered) -> float:
            value = stats.norm.pdf(t)
            for name, answer in answered.items():
                j = items.names.index(name)
                k = items.categories[j].index(answer)
                bounds = np.concatenate([[np.inf], items.intercepts[j][: items.n_categories[j] - 1], [-np.inf]])
                z = items.slopes[j] * t
                value *= special.expit(z + bounds[k]) - special.expit(z + bounds[k + 1])
            return value

        def moment(power: int, centre: float = 0.0, likelihood=likelihood) -> float:
            return integrate.quad(lambda t: (t - centre) ** power * likelihood(t), -np.inf, np.inf, epsabs=1e-13)[0]

        mass = moment(0)
        mean = moment(1) / mass
        variance = moment(2, mean) / mass
        assert scores["theta"].iloc[row] == pytest.approx(mean, abs=EAP_INTEGRAL_TOLERANCE)
        assert scores["se"].iloc[row] == pytest.approx(np.sqrt(variance), abs=EAP_INTEGRAL_TOLERANCE)
        assert scores["n_answered"].iloc[row] == len(answered)
    np.testing.assert_allclose(scores["t_score"], 50 + 10 * scores["theta"])
    np.testing.assert_allclose(scores["t_se"], 10 * scores["se"])


def test_eap_is_a_pure_function_of_the_parameters(recovery) -> None:
    fit, _, _, data = recovery
    from_fit = fit.theta(data.iloc[:50])
    from_table = eap_scores(fit.parameters, data.iloc[:50], first_category=1)
    pd.testing.assert_frame_equal(from_fit, from_table)
    # A subset of the items, in another order, and one respondent as a mapping.
    subset = data.iloc[:3][["i7", "i2", "i9"]]
    one = eap_scores(fit.parameters, dict(subset.iloc[0]), first_category=1)
    assert one["theta"].iloc[0] == pytest.approx(fit.theta(subset)["theta"].iloc[0])
    # Nothing answered: the prior.
    empty = fit.theta(pd.DataFrame({"i1": [np.nan]}))
    assert empty["theta"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert empty["se"].iloc[0] == pytest.approx(1.0, abs=1e-6)
    assert empty["n_answered"].iloc[0] == 0


def test_map_is_the_posterior_mode(recovery) -> None:
    fit, _, _, data = recovery
    answers = data.iloc[:4]
    scores = fit.theta(answers, method="MAP")
    items = graded_items(fit)
    for row in range(len(answers)):
        codes = items.codes(answers.iloc[[row]])[0]

        def log_posterior(t: float, codes: np.ndarray = codes) -> float:
            probability = category_probabilities(fit, [t])
            total = stats.norm.logpdf(t)
            for j, name in enumerate(items.names):
                total += np.log(probability[name].iloc[0, codes[j]])
            return total

        mode = scores["theta"].iloc[row]
        h = 1e-4
        assert (log_posterior(mode + h) - log_posterior(mode - h)) / (2 * h) == pytest.approx(0.0, abs=1e-5)
        curvature = (log_posterior(mode + h) - 2 * log_posterior(mode) + log_posterior(mode - h)) / h**2
        assert scores["se"].iloc[row] == pytest.approx(1 / np.sqrt(-curvature), rel=1e-4)


def test_information_of_a_two_category_item_is_a2pq() -> None:
    bank = pd.DataFrame({"a": [1.7, 0.6], "b1": [0.3, -1.2]}, index=["x", "y"])
    grid = np.linspace(-4, 4, 17)
    info = item_information(bank, grid)
    for name, (a, b) in zip(["x", "y"], [(1.7, 0.3), (0.6, -1.2)], strict=True):
        p = special.expit(a * (grid - b))
        np.testing.assert_allclose(info[name].to_numpy(), a**2 * p * (1 - p), rtol=1e-12)
    np.testing.assert_allclose(test_information(bank, grid).to_numpy(), info.sum(axis=1).to_numpy())


def test_graded_information_by_finite_differences() -> None:
    bank = pd.DataFrame({"a": [1.3, 2.4], "b1": [-1.5, -0.4], "b2": [-0.2, 0.1], "b3": [0.9, 1.6],
                         "b4": [2.0, np.nan]}, index=["five", "four"])
    grid = np.array([-2.5, -0.7, 0.0, 0.4, 1.9])
    h = 1e-5
    info = item_information(bank, grid)
    above, below = category_probabilities(bank, grid + h), category_probabilities(bank, grid - h)
    at = category_probabilities(bank, grid)
    for name in bank.index:
        derivative = (above[name].to_numpy() - below[name].to_numpy()) / (2 * h)
        expected = (derivative**2 / at[name].to_numpy()).sum(axis=1)
        np.testing.assert_allclose(info[name].to_numpy(), expected, rtol=FINITE_DIFFERENCE_TOLERANCE)
    assert at["four"].shape == (5, 4)
    np.testing.assert_allclose(at["five"].sum(axis=1), 1.0)


def test_expected_score() -> None:
    bank = pd.DataFrame({"a": [1.0, 1.5], "b1": [0.0, -1.0], "b2": [np.nan, 1.0]}, index=["x", "y"])
    grid = np.array([-1.0, 0.0, 2.0])
    scores = expected_score(bank, grid, first_category=1)
    np.testing.assert_allclose(scores["x"], 1 + special.expit(grid))
    np.testing.assert_allclose(scores["y"], 1 + special.expit(1.5 * (grid + 1)) + special.expit(1.5 * (grid - 1)))
    np.testing.assert_allclose(scores["total"], scores["x"] + scores["y"])


def _two_pl_loglik(beta: np.ndarray, data: np.ndarray, nodes: np.ndarray, weights: np.ndarray,
                   gradient: bool = False) -> float | tuple[float, np.ndarray]:
    """Marginal log-likelihood of a 2PL (and its gradient), written directly (no package code)."""
    n_items = data.shape[1]
    a, d = beta[:n_items], beta[n_items:]
    z = a[None, :] * nodes[:, None] + d[None, :]  # nodes x items
    answered = ~np.isnan(data)
    yes, no = np.where(answered, np.nan_to_num(data), 0.0), np.where(answered, 1 - np.nan_to_num(data), 0.0)
    log_joint = yes @ special.log_expit(z).T + no @ special.log_expit(-z).T + np.log(weights)[None, :]
    log_marginal = special.logsumexp(log_joint, axis=1)
    if not gradient:
        return float(log_marginal.sum())
    posterior = np.exp(log_joint - log_marginal[:, None])  # respondents x nodes
    # d/dz of the answered items' log-likelihood is x - P; chain rule to a (times theta) and d.
    residual = yes[:, None, :] - answered[:, None, :] * special.expit(z)[None, :, :]
    weighted = posterior[:, :, None] * residual
    slope_gradient = np.einsum("iqj,q->j", weighted, nodes)
    return float(log_marginal.sum()), np.concatenate([slope_gradient, weighted.sum(axis=(0, 1))])


def test_graded_model_on_dichotomous_data_is_the_2pl() -> None:
    slopes = np.array([0.9, 1.4, 2.0, 1.1, 1.7])
    thresholds = np.array([[-1.0], [-0.3], [0.2], [0.8], [1.3]])
    data, _ = simulate_grm(slopes, thresholds, n=1500, seed=3, first_category=0, missing_rate=0.05)
    fit = graded_response_model(data, tol=1e-7)
    nodes, weights = quadrature()
    values = data.to_numpy()
    def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = _two_pl_loglik(beta, values, nodes, weights, gradient=True)
        return -value, -gradient

    result = optimize.minimize(objective, np.concatenate([np.ones(5), np.zeros(5)]), jac=True, method="BFGS",
                               options={"gtol": 1e-6})
    # BFGS may stop on "precision loss" this close to the maximum; what matters is a zero gradient.
    assert np.max(np.abs(result.jac)) < 1e-3
    estimates = np.concatenate([fit.parameters["a"].to_numpy(), fit.parameters["d1"].to_numpy()])
    _, gradient_at_fit = _two_pl_loglik(estimates, values, nodes, weights, gradient=True)
    assert np.max(np.abs(gradient_at_fit)) < 1e-4
    np.testing.assert_allclose(fit.parameters["a"], result.x[:5], atol=SAME_MAXIMUM_PARAMETER_TOLERANCE)
    np.testing.assert_allclose(fit.parameters["d1"], result.x[5:], atol=SAME_MAXIMUM_PARAMETER_TOLERANCE)
    assert fit.loglik == pytest.approx(-result.fun, abs=SAME_MAXIMUM_LOGLIK_TOLERANCE)
    assert list(fit.parameters.columns) == ["a", "b1", "d1"]


def test_standard_errors_match_a_numerical_hessian() -> None:
    slopes = np.array([0.9, 1.4, 2.0, 1.1])
    thresholds = np.array([[-1.0], [-0.3], [0.2], [0.8]])
    data, _ = simulate_grm(slopes, thresholds, n=800, seed=11, first_category=0, missing_rate=0.1)
    fit = graded_response_model(data, tol=1e-8)
    nodes, weights = quadrature()
    values = data.to_numpy()
    beta = np.concatenate([fit.parameters["a"].to_numpy(), fit.parameters["d1"].to_numpy()])
    h = 1e-4
    hessian = np.zeros((8, 8))
    for i in range(8):
        for j in range(8):
            e_i, e_j = np.eye(8)[i] * h, np.eye(8)[j] * h
            hessian[i, j] = (_two_pl_loglik(beta + e_i + e_j, values, nodes, weights)
                             - _two_pl_loglik(beta + e_i - e_j, values, nodes, weights)
                             - _two_pl_loglik(beta - e_i + e_j, values, nodes, weights)
                             + _two_pl_loglik(beta - e_i - e_j, values, nodes, weights)) / (4 * h * h)
    numerical = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    np.testing.assert_allclose(fit.standard_errors["a"], numerical[:4], rtol=STANDARD_ERROR_RELATIVE_TOLERANCE)
    np.testing.assert_allclose(fit.standard_errors["d1"], numerical[4:], rtol=STANDARD_ERROR_RELATIVE_TOLERANCE)
    # b = -d / a by the delta method.
    covariance = np.linalg.inv(-hessian)
    for j in range(4):
        a, d = beta[j], beta[4 + j]
        gradient = np.zeros(8)
        gradient[j], gradient[4 + j] = d / a**2, -1 / a
        assert fit.standard_errors["b1"].iloc[j] == pytest.approx(np.sqrt(gradient @ covariance @ gradient),
                                                                  rel=STANDARD_ERROR_RELATIVE_TOLERANCE)


def test_missing_answers_are_skipped() -> None:
    slopes, thresholds = generating_parameters(8, 4, seed=5)
    data, _ = simulate_grm(slopes, thresholds, n=4000, seed=9, missing_rate=0.2)
    data.loc[0, :] = np.nan  # a respondent with no answers adds nothing
    fit = graded_response_model(data)
    assert fit.n_respondents == 3999
    rmse_a = np.sqrt(np.mean((fit.parameters["a"].to_numpy() - slopes) ** 2))
    rmse_b = np.sqrt(np.mean((fit.parameters[["b1", "b2", "b3"]].to_numpy() - thresholds) ** 2))
    assert rmse_a < 0.15 and rmse_b < 0.15
    without = graded_response_model(data.iloc[1:])
    assert fit.loglik == pytest.approx(without.loglik, abs=1e-8)
    # The log-likelihood is the sum over respondents of the marginal likelihood of the items each
    # answered, recomputed here item by item from the category probabilities.
    nodes, weights = quadrature()
    probabilities = category_probabilities(fit, nodes)
    at_nodes = np.tile(np.log(weights), (len(data) - 1, 1))
    for name in data.columns:
        answers = data[name].iloc[1:]
        answered = answers.notna().to_numpy()
        columns = answers[answered].map(lambda v, name=name: fit.categories[name].index(v)).to_numpy(int)
        at_nodes[answered] += np.log(probabilities[name].to_numpy()[:, columns].T)
    assert fit.loglik == pytest.approx(special.logsumexp(at_nodes, axis=1).sum(), abs=1e-8)


def test_recoding_does_not_change_the_fit() -> None:
    slopes, thresholds = generating_parameters(4, 3, seed=1)
    data, _ = simulate_grm(slopes, thresholds, n=600, seed=2, first_category=0)
    shifted = graded_response_model(data + 3)
    plain = graded_response_model(data)
    pd.testing.assert_frame_equal(shifted.parameters, plain.parameters)
    assert shifted.categories["i1"] == (3.0, 4.0, 5.0)
    # Scores need the answers on the fit's own scale.
    with pytest.raises(AnalysisError, match=r"item 'i1': answer 0 in row 1 is not one of its categories"):
        shifted.theta(data.iloc[:2])


def test_items_with_fewer_categories() -> None:
    slopes, thresholds = generating_parameters(5, 4, seed=8)
    data, _ = simulate_grm(slopes, thresholds, n=1500, seed=4)
    data["i5"] = (data["i5"] > 2).astype(float)  # a yes/no item among 4-point items
    fit = graded_response_model(data)
    assert fit.converged
    assert np.isnan(fit.parameters.loc["i5", ["b2", "b3", "d2", "d3"]]).all()
    assert fit.n_parameters == 4 * 4 + 2
    assert fit.theta(data.iloc[:3])["theta"].notna().all()


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ([2, 2, 2, 2, 2, 2], r"item 'bad' has a single observed category \(2\)"),
        ([1, 3, 1, 3, 1, 3], r"item 'bad' has no answers in category 2 \(between 1 and 3\)"),
        ([1, 2.5, 1, 2, 1, 2], r"item 'bad' has a non-integer answer \(2.5\)"),
        ([np.nan] * 6, r"item 'bad' has no answers"),
    ],
)
def test_bad_items_are_named(column: list[float], message: str) -> None:
    data = pd.DataFrame({"good": [1, 2, 1, 2, 1, 2], "fine": [2, 1, 2, 2, 1, 1], "bad": column})
    with pytest.raises(AnalysisError, match=message):
        graded_response_model(data)


def test_bad_parameters_and_answers() -> None:
    with pytest.raises(AnalysisError, match="item 'x': thresholds must be ordered"):
        graded_items(pd.DataFrame({"a": [1.0], "b1": [0.5], "b2": [0.1]}, index=["x"]))
    with pytest.raises(AnalysisError, match="column 'a'"):
        graded_items(pd.DataFrame({"b1": [0.5]}, index=["x"]))
    bank = pd.DataFrame({"a": [1.0], "b1": [0.5]}, index=["x"])
    with pytest.raises(AnalysisError, match=r"column\(s\) 'id' are not items"):
        eap_scores(bank, pd.DataFrame({"id": [1], "x": [0]}))
    with pytest.raises(AnalysisError, match="item 'x': answer 2 in row 1"):
        eap_scores(bank, {"x": 2})
    with pytest.raises(AnalysisError, match="method must be"):
        eap_scores(bank, {"x": 1}, method="ML")  # type: ignore[arg-type]
    b_form = graded_items(pd.DataFrame({"a": [2.0], "b1": [0.5], "b2": [1.0]}, index=["x"]))
    d_form = graded_items(pd.DataFrame({"a": [2.0], "d1": [-1.0], "d2": [-2.0]}, index=["x"]))
    np.testing.assert_allclose(b_form.intercepts, d_form.intercepts)
