"""The validation report is a view of the results JSON: the numbers agree, nothing comes from the network."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from typing import Any

import markupsafe
import plotly.offline
import pytest
from reporttools import NOISE_ITEM

from rctscale.report.formatting import bounded, json_pointer, p_value, percent
from rctscale.report.validation import render_validation_report


class _ShownNumbers(HTMLParser):
    """Collects (pointer, text) for every element that carries a data-json pointer."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[tuple[str | None, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "span":
            self._open.append((dict(attrs).get("data-json"), []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open:
            pointer, text = self._open.pop()
            if pointer is not None:
                self.found.append((pointer, "".join(text)))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][1].append(data)


def shown_numbers(html: str) -> list[tuple[str, str]]:
    parser = _ShownNumbers()
    parser.feed(html)
    return parser.found


def resolve(results: dict[str, Any], pointer: str) -> Any:
    value: Any = results
    for part in pointer.lstrip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def agrees(value: Any, text: str) -> bool:
    """Does ``text`` show ``value`` at the precision it is written with?"""
    shown = text.strip().replace("\u2212", "-").replace(",", "")
    if shown == "\u2014":
        return value is None
    if shown.startswith("< "):
        return value < float(shown[2:])
    scale = 1.0
    if shown.endswith("%"):
        shown, scale = shown[:-1].strip(), 100.0
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return abs(float(value) * scale - float(shown)) <= 0.5 * 10 ** -decimals + 1e-9


HEADLINE_POINTERS = [
    "/sample/n", "/sample/complete_cases", "/kmo/overall", "/bartlett/chisq", "/bartlett/pvalue",
    "/parallel_analysis/n_factors", "/cfa/headline/chisq", "/cfa/headline/df", "/cfa/headline/cfi",
    "/cfa/headline/tli", "/cfa/headline/rmsea", "/cfa/headline/srmr", "/cfa/headline/rmsea_ci_lower",
    "/invariance/table/metric/delta_cfi", "/invariance/table/scalar/cfi",
    *[f"/reliability/{scale}/{key}" for scale in ("connection", "mutuality", "shame")
      for key in ("alpha", "omega_total", "alpha_ci/0", "alpha_ci/1", "alpha_boot_ci/0", "omega_ci/1")],
    f"/reliability/mutuality/items/{NOISE_ITEM}/r_drop", f"/efa/loadings/{NOISE_ITEM}/MR1",
    f"/cfa/std_loadings/{NOISE_ITEM}/mutuality", "/irt/shame/parameters/sha01/a",
]


def test_every_number_shown_is_the_number_in_the_json(results: dict[str, Any], validation_html: str) -> None:
    shown = shown_numbers(validation_html)
    assert len(shown) > 300
    disagreements = [(pointer, text, resolve(results, pointer)) for pointer, text in shown
                     if not agrees(resolve(results, pointer), text)]
    assert not disagreements, disagreements[:10]
    pointers = {pointer for pointer, _ in shown}
    missing = [p for p in HEADLINE_POINTERS if p not in pointers]
    assert not missing, missing


def test_headline_numbers_in_apa_style(results: dict[str, Any], validation_html: str) -> None:
    alpha = results["reliability"]["connection"]["alpha"]
    assert f'data-json="{json_pointer("reliability", "connection", "alpha")}">{bounded(alpha, 3)}<' in validation_html
    assert bounded(alpha, 3).startswith(".")  # no leading zero for a coefficient that cannot exceed 1
    cfi = results["cfa"]["headline"]["cfi"]
    assert f">{bounded(cfi, 3)}</span>" in validation_html and f"CFI = {bounded(cfi, 2)}" in validation_html
    assert p_value(results["bartlett"]["pvalue"]) == "< .001" and "<i>p</i> <span" in validation_html
    assert percent(results["sample"]["missing_share"], 2) in validation_html


def test_the_summary_states_verdicts_rules_and_the_items_to_review(results: dict[str, Any],
                                                                   validation_html: str) -> None:
    summary = validation_html.split('id="summary"')[1].split('id="sample"')[0]
    for topic in ("Reliability.", "Sampling adequacy.", "Dimensionality.", "CFA fit.", "Invariance.", "Items."):
        assert topic in summary
    r_drop = results["reliability"]["mutuality"]["items"][NOISE_ITEM]["r_drop"]
    row = summary.split(f"<tr><td>{NOISE_ITEM}</td>")[1].split("</tr>")[0]
    assert f"item-rest r = {bounded(r_drop)} in mutuality (&lt; .30)" in row
    assert "standardized CFA loading" in row and "IRT discrimination" in row
    for rule in results["review"]["item_rules"].values():
        assert str(markupsafe.escape(rule["text"])) in summary
    assert "Below .70: mutuality" in summary


def test_self_contained_plotly_once_and_nothing_from_the_network(validation_html: str) -> None:
    plotly_js = plotly.offline.get_plotlyjs()
    assert validation_html.count(plotly_js) == 1  # embedded once
    assert validation_html.count("<script>") == 2  # plotly.js in the head, the figure drawing at the end
    # The library's own source mentions map-tile and logo URLs it never loads here (the browser test
    # checks that no request leaves the page); the report's markup must name none.
    markup = validation_html.replace(plotly_js, "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", markup)
    specs = re.findall(r'<script type="application/json" id="spec-([a-z0-9-]+)">', validation_html)
    plots = re.findall(r'<div class="plot" id="plot-([a-z0-9-]+)"', validation_html)
    assert specs == plots and {"item-distributions", "scree-parallel-analysis", "efa-loadings",
                               "irt-test-information"} <= set(plots)
    assert "@media print" in validation_html and "<table" in validation_html and "<caption>" in validation_html


def test_sections_that_failed_show_their_error(results: dict[str, Any]) -> None:
    broken = copy.deepcopy(results)
    broken["cfa"] = {"error": "the model is not identified: factor 'x' has one indicator"}
    broken["irt"]["shame"] = {"error": "item sha07 has a single observed category"}
    # the review is part of the results too: a CFA that failed has no verdict
    broken["review"]["statements"] = [s if s["topic"] != "cfa_fit" else {"topic": "cfa_fit", "status": "not computed"}
                                      for s in broken["review"]["statements"]]
    html = render_validation_report(broken)
    assert "Not computed: the model is not identified" in html
    assert "shame: not computed: item sha07 has a single observed category" in html
    assert "The CFA could not be fitted." in html


def test_the_report_renders_from_the_json_alone(results: dict[str, Any], validation_html: str) -> None:
    again = render_validation_report(json.loads(json.dumps(results)))
    strip = re.compile(r"report generated [0-9: -]+")
    assert strip.sub("", again) == strip.sub("", validation_html)


@pytest.mark.parametrize(("value", "digits", "text"), [
    (0.9123, 3, ".912"), (-0.05, 2, "\u2212.05"), (1.0, 2, "1.00"), (-0.0001, 2, ".00"), (None, 2, "\u2014"),
])
def test_apa_number_format(value: float | None, digits: int, text: str) -> None:
    assert bounded(value, digits) == text
