"""The clinician's respondent report: scores with SEM intervals, norms or not, change, flags; one renderer for
the command line and the web's staff page."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from reporttools import write_intake_sample

import rctscale as rs
from rctscale.errors import DataError
from rctscale.report.respondent import (
    render_respondent_report,
    render_respondent_sections,
    respondent_report_from_files,
)
from rctscale.scoring import build_norms, reliable_change

CRITICAL = ("con31", "con32", "sha07", "sha10")


def two_visits(directory: Path) -> tuple[Path, Path]:
    """A sample in which respondent 'target' answers Never to everything, then (a visit later) Always,
    leaving one item unanswered the second time."""
    sample = directory / "sample.csv"
    write_intake_sample(sample, n=120, seed=21)
    frame = pd.read_csv(sample)
    form = rs.load_form("intake")
    frame.loc[0, "id"] = "target"
    before, after = frame.copy(), frame.copy()
    before.loc[0, form.item_ids] = 1
    after.loc[0, form.item_ids] = 5
    after.loc[0, "mut20"] = None
    before.to_csv(directory / "before.csv", index=False)
    after.to_csv(directory / "after.csv", index=False)
    return directory / "before.csv", directory / "after.csv"


def test_scores_intervals_change_and_flags_without_norms(tmp_path: Path) -> None:
    before, after = two_visits(tmp_path)
    form = rs.load_form("intake")
    report, current, previous = respondent_report_from_files(form, after, "target", previous=before)
    expected = rs.score(form, rs.read_responses(after, form)).iloc[0]
    connection = next(s for s in report.scales if s.id == "connection")
    assert connection.sum == pytest.approx(expected["connection_sum"])
    assert connection.sem == pytest.approx(expected["connection_sem"])
    assert (connection.low, connection.high) == pytest.approx((connection.sum - 1.96 * connection.sem,
                                                               connection.sum + 1.96 * connection.sem))
    assert math.isnan(connection.t) and not report.has_norms
    mutuality = next(s for s in report.scales if s.id == "mutuality")
    assert mutuality.n_answered == 5 and mutuality.prorated
    assert report.unanswered == ["mut20"] and report.declined == []
    assert [c["id"] for c in report.critical] == [i for i in form.item_ids if i in CRITICAL]
    assert report.change is not None and previous is not None
    rci = reliable_change(form, previous.scores.loc[previous.key], current.scores.loc[current.key])
    for row in report.change:
        assert row["rci"] == pytest.approx(rci.loc[row["scale"], "rci"])
    shame = next(row for row in report.change if row["scale"] == "shame")
    assert shame["reliable"] and shame["direction"] == "increase"

    html = render_respondent_report(report, title="Score report: respondent target", facts=[("Respondent", "target")],
                                    previous_label="Previous administration: before.csv")
    assert "There are no norms for this form, so T-scores and percentiles are not available." in html
    assert "the SD of the 120 respondents in the data file" in html
    assert f"{connection.low:.1f} to {connection.high:.1f}" in html
    assert "Change since the previous administration" in html and "Previous administration: before.csv" in html
    assert "<strong>increase</strong>" in html and "Not answered: mut20." in html
    assert html.count('<tr class="critical">') == 4 and "Critical items" in html
    assert "@media print" in html and "http" not in html.replace('"http-equiv"', "")


def test_with_norms_t_scores_and_percentiles_appear(tmp_path: Path) -> None:
    _before, after = two_visits(tmp_path)
    form = rs.load_form("intake")
    norm_sample = tmp_path / "norm-sample.csv"
    write_intake_sample(norm_sample, n=300, seed=22)
    norms = build_norms(form, rs.read_responses(norm_sample, form), name="intake_test_norms")
    norms_path = tmp_path / "norms.yaml"
    norms_path.write_text(norms.to_yaml(), encoding="utf-8")
    report, current, _previous = respondent_report_from_files(form, after, "target", norms=norms_path)
    shame = next(s for s in report.scales if s.id == "shame")
    assert report.has_norms and report.norms_name == "intake_test_norms"
    assert shame.t == pytest.approx(norms.scales["shame"].t_score(shame.sum))
    assert shame.percentile == pytest.approx(norms.scales["shame"].percentile(shame.sum))
    html = str(render_respondent_sections(report))
    assert "Norms: intake_test_norms." in html and "There are no norms" not in html
    assert f"<td>{shame.t:.1f}</td>" in html
    assert "No earlier submitted response" in html


def test_unknown_respondent_is_a_clear_error(tmp_path: Path) -> None:
    _before, after = two_visits(tmp_path)
    with pytest.raises(DataError, match=r"after.csv: no respondent 'nobody' in column 'id' \(the file has 120"):
        respondent_report_from_files(rs.load_form("intake"), after, "nobody")


def test_the_fragment_keeps_a_strict_csp(tmp_path: Path) -> None:
    _before, after = two_visits(tmp_path)
    report, _current, _previous = respondent_report_from_files(rs.load_form("intake"), after, "target")
    fragment = str(render_respondent_sections(report))
    for forbidden in ("<style", "style=", "<script", "onclick", "javascript:"):
        assert forbidden not in fragment


def test_the_staff_report_page_uses_the_same_fragment(tmp_path: Path) -> None:
    from webtools import answer_all, create_administration, csrf_of, new_client, signed_in_client

    from rctscale.store import upgrade_database
    from rctscale.web import create_app

    url = f"sqlite:///{tmp_path / 'web.db'}"
    upgrade_database(url)
    app = create_app(url, secure_cookies=True)
    try:
        clinician = signed_in_client(app, "clinician")
        _administration, [link] = create_administration(clinician, mode="invitations", labels="MRN-7")
        respondent = new_client(app)
        review = answer_all(respondent, link, value="5")
        respondent.post(f"{link}/submit", data={"csrf_token": csrf_of(review.text)})
        response_id = max(entry.response.id for summary in app.state.repository.administrations()
                          for entry in app.state.repository.responses(summary.administration.id))
        page = clinician.get(f"/staff/responses/{response_id}")
        assert page.status_code == 200
        assert '<div class="respondent-report">' in page.text and 'id="scores-heading"' in page.text
        assert "There are no norms for this form" in page.text and "Critical items" in page.text
        assert "<style" not in page.text and "style=" not in page.text
    finally:
        app.state.repository.engine.dispose()
