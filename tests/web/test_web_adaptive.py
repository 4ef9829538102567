"""Adaptive (CAT) administrations through FastAPI's TestClient: the server picks each item from the
stored answers, resumes, takes repeated posts idempotently, refuses out-of-turn and bad answers,
honours the stopping rule, and the report data carry theta. Calibrations are fitted to simulated
samples in temporary directories (tests/conftest.py: research_calibration)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from webtools import csrf_of, item_ids_on, new_client, start

from rctscale import psychometrics as pm
from rctscale.adaptive import AdaptiveRules, administration_settings, response_seed
from rctscale.bank import Form, load_calibrations, load_form, read_calibration
from rctscale.psychometrics.cat import CATRules, CATSession, CATState
from rctscale.store import Repository, make_engine, upgrade_database
from rctscale.web.scores import respondent_report

PROGRESS = re.compile(r'<p class="progress" id="progress-text">(?:Part (\d+) of (\d+): )?Question (\d+) '
                      r'\(at most (\d+)\)</p>')


def adaptive_link(app: FastAPI, calibration_dir: Path, *, form_id: str = "research", mode: str = "public",
                  rules: AdaptiveRules | None = None) -> tuple[int, str]:
    """An adaptive administration made as `rctscale administration create --adaptive` makes it; (id, link)."""
    form = load_form(form_id)
    cat_rules, stored = administration_settings(form, load_calibrations(calibration_dir, form.banks, required=True),
                                                rules or AdaptiveRules())
    store: Repository = app.state.repository
    administration = store.create_administration(form_id=form_id, form_hash=form.content_hash, title="Adaptive",
                                                 referent=None, mode=mode, adaptive=True, cat_rules=cat_rules,
                                                 calibration=stored)
    if mode == "public":
        return administration.id, f"/r/{administration.public_key}"
    [(_invitation, token)] = store.add_invitations(administration.id, ["Patient A"], expires_in=dt.timedelta(days=1))
    return administration.id, f"/i/{token}"


class ReferenceCAT:
    """The CAT a respondent should get, built here from the calibration files and pm.CATSession alone,
    fed the answers in the order they were given (the web rebuilds its state from the database)."""

    def __init__(self, form: Form, calibration_dir: Path, rules: AdaptiveRules, nonce: str) -> None:
        self.form = form
        self.sessions: list[tuple[str, CATSession, CATState]] = []
        for scale in form.scales:
            bank = form.item(scale.items[0]).bank
            # The research form's scales are the calibrated ones; the intake scales share their ids.
            calibrated = read_calibration(calibration_dir / f"{bank}.yaml").scale(scale.id)
            pool = [i for i in form.item_ids if i in scale.items]
            session = CATSession(calibrated.parameters(pool), CATRules(
                min_items=rules.min_items, max_items=rules.max_items, se_target=rules.se_target,
                randomesque=rules.randomesque, facets={i: form.item(i).facet for i in pool}),
                categories=calibrated.categories(pool))
            self.sessions.append((scale.id, session, CATState((), (), response_seed(nonce, scale.id))))

    def expected(self) -> tuple[int, str] | None:
        for index, (_scale, session, state) in enumerate(self.sessions):
            item = session.next_item(state)
            if item is not None:
                return index, item
        return None

    def answer(self, item_id: str, value: int | None) -> None:
        item = self.form.item(item_id)
        keyed = None if value is None else (item.scale.minimum + item.scale.maximum - value if item.reverse else value)
        for index, (scale, session, state) in enumerate(self.sessions):
            if item_id in session.item_ids:
                self.sessions[index] = (scale, session, session.update(state, item_id, keyed))


def post_answer(client: TestClient, link: str, page_html: str, item_id: str, value: str, action: str = "next"):  # type: ignore[no-untyped-def]
    return client.post(f"{link}/question", data={"csrf_token": csrf_of(page_html), "question": item_id,
                                                  "action": action, item_id: value})


def stored_answers(app: FastAPI, administration_id: int) -> dict[str, int | None]:
    [entry] = app.state.repository.responses(administration_id)
    return entry.answers


# ---------------------------------------------------------------------- the whole flow


def test_research_form_end_to_end_asks_what_the_cat_chooses_and_stops(any_db_app: FastAPI,
                                                                      research_calibration: Path) -> None:
    rules = AdaptiveRules()
    administration_id, link = adaptive_link(any_db_app, research_calibration, rules=rules)
    respondent = new_client(any_db_app)
    intro = respondent.get(link)
    assert "at most 41 statements in 4 parts" in intro.text  # 12 + 12 + 12 + the 5 guilt items
    page = start(respondent, link)
    assert page.url.path == f"{link}/question"
    form = load_form("research")
    reference = ReferenceCAT(form, research_calibration, rules, csrf_of(page.text))
    rng = np.random.default_rng(1)
    given: dict[str, int | None] = {}
    asked_per_part: dict[int, int] = {}
    while page.url.path.endswith("/question"):
        expected = reference.expected()
        assert expected is not None, "the server asks on although every section has stopped"
        part, item_id = expected
        assert item_ids_on(page.text) == [item_id]
        asked_per_part[part] = asked_per_part.get(part, 0) + 1
        progress = PROGRESS.search(page.text)
        assert progress, page.text
        assert progress.groups() == (str(part + 1), "4", str(asked_per_part[part]),
                                     str(min(12, len(form.scales[part].items))))
        value = None if rng.random() < 0.1 else int(rng.integers(1, 6))
        page = post_answer(respondent, link, page.text, item_id, "declined" if value is None else str(value))
        assert page.status_code == 200, page.text
        reference.answer(item_id, value)
        given[item_id] = value
    assert page.url.path == f"{link}/review"
    assert reference.expected() is None
    for scale_id, session, state in reference.sessions:
        assert session.should_stop(state), scale_id
        asked = len(state.items)
        assert min(4, len(session.item_ids)) <= asked <= 12
        if session.stop_reason(state) == "se_target":
            assert session.estimate(state).se < 0.3
    assert len(given) < len(form.items) / 2
    assert "You have answered all the questions." in page.text and page.text.count("<dt>") == len(given)
    assert stored_answers(any_db_app, administration_id) == given
    assert respondent.get(f"{link}/question").url.path == f"{link}/review"  # nothing more to ask
    thanks = respondent.post(f"{link}/submit", data={"csrf_token": csrf_of(page.text)})
    assert thanks.url.path == "/thanks"
    assert any_db_app.state.repository.count_responses(status="submitted") == 1


def test_question_page_is_one_accessible_fieldset(app: FastAPI, research_calibration: Path) -> None:
    _id, link = adaptive_link(app, research_calibration, form_id="intake")
    page = start(new_client(app), link)
    [item_id] = item_ids_on(page.text)
    assert page.text.count("<fieldset") == 1 and page.text.count("<legend>") == 1
    for value in ("1", "2", "3", "4", "5", "declined"):
        assert f'<label for="{item_id}-{value}">' in page.text
    assert "Prefer not to answer" in page.text
    assert "Part 1 of 3: Question 1 (at most 6)" in page.text  # the intake scales have six items each
    assert 'value="back"' not in page.text and 'name="question" value="' + item_id + '"' in page.text


# ---------------------------------------------------------------------- resuming and repeated posts


def test_resume_on_another_device_asks_the_same_question(app: FastAPI, research_calibration: Path) -> None:
    administration_id, link = adaptive_link(app, research_calibration, mode="invitations")
    first_device = new_client(app)
    page = start(first_device, link)
    for value in ("2", "5", "declined"):
        [item_id] = item_ids_on(page.text)
        page = post_answer(first_device, link, page.text, item_id, value)
    [current] = item_ids_on(page.text)
    saved = first_device.post(f"{link}/question", data={"csrf_token": csrf_of(page.text), "action": "save",
                                                        "question": current})
    assert saved.url.path == f"{link}/saved"
    assert len(stored_answers(app, administration_id)) == 3

    second_device = new_client(app)
    assert "Continue where I left off" in second_device.get(link).text
    resumed = start(second_device, link)
    assert resumed.url.path == f"{link}/question" and item_ids_on(resumed.text) == [current]
    assert "Question 4 (at most 12)" in resumed.text
    assert item_ids_on(first_device.get(f"{link}/question").text) == [current]  # a reload: the same item


def test_a_repeated_answer_changes_nothing_and_earlier_answers_are_fixed(app: FastAPI,
                                                                        research_calibration: Path) -> None:
    administration_id, link = adaptive_link(app, research_calibration)
    client = new_client(app)
    first_page = start(client, link)
    [first] = item_ids_on(first_page.text)
    second_page = post_answer(client, link, first_page.text, first, "3")
    [second] = item_ids_on(second_page.text)
    assert second != first
    again = post_answer(client, link, first_page.text, first, "3")  # double click, or back and resubmit
    assert again.status_code == 200 and item_ids_on(again.text) == [second]
    assert stored_answers(app, administration_id) == {first: 3}
    changed = post_answer(client, link, first_page.text, first, "1")
    assert changed.status_code == 400 and "answered already" in changed.text
    assert stored_answers(app, administration_id) == {first: 3}


def test_out_of_turn_and_invalid_answers_are_400_and_store_nothing(app: FastAPI, research_calibration: Path) -> None:
    administration_id, link = adaptive_link(app, research_calibration)
    client = new_client(app)
    page = start(client, link)
    [current] = item_ids_on(page.text)
    token = csrf_of(page.text)
    not_asked = next(i for i in load_form("research").item_ids if i != current)
    cases = [
        ({not_asked: "3"}, "not the question being asked now"),
        ({current: "6"}, "must be one of"), ({current: "0"}, "must be one of"), ({current: "abc"}, "must be one of"),
        ({current: "2.5"}, "must be one of"), ({"zzz99": "1"}, "is not a question"),
        ({current: "3", not_asked: "3"}, "one question at a time"),
    ]
    for answers, message in cases:
        answer = client.post(f"{link}/question", data={"csrf_token": token, "action": "next", "question": current,
                                                       **answers})
        assert answer.status_code == 400, answers
        assert message in answer.text and "Nothing was saved" in answer.text
    duplicate = client.post(f"{link}/question", content=f"csrf_token={token}&{current}=1&{current}=2".encode(),
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert duplicate.status_code == 400
    nothing_chosen = client.post(f"{link}/question", data={"csrf_token": token, "action": "next",
                                                           "question": current})
    assert nothing_chosen.status_code == 400 and 'role="alert"' in nothing_chosen.text
    assert item_ids_on(nothing_chosen.text) == [current] and 'aria-describedby="question-error"' in nothing_chosen.text
    wrong_token = client.post(f"{link}/question", data={"csrf_token": "x" * 40, "question": current, current: "2"})
    assert wrong_token.status_code == 403
    assert stored_answers(app, administration_id) == {}


def test_prefer_not_to_answer_counts_as_asked(app: FastAPI, research_calibration: Path) -> None:
    administration_id, link = adaptive_link(app, research_calibration)
    client = new_client(app)
    page = start(client, link)
    [first] = item_ids_on(page.text)
    page = post_answer(client, link, page.text, first, "declined")
    assert "Question 2 (at most 12)" in page.text and item_ids_on(page.text) != [first]
    assert stored_answers(app, administration_id) == {first: None}


def test_paged_routes_do_not_bypass_the_cat(app: FastAPI, research_calibration: Path) -> None:
    administration_id, link = adaptive_link(app, research_calibration)
    client = new_client(app)
    page = start(client, link)
    assert client.get(f"{link}/page/1").url.path == f"{link}/question"
    bypass = client.post(f"{link}/page/1", data={"csrf_token": csrf_of(page.text), "action": "next",
                                                 "con01": "3", "con02": "3"})
    assert bypass.status_code == 400 and "one question at a time" in bypass.text
    assert stored_answers(app, administration_id) == {}


def test_the_stopping_rule_is_honoured(app: FastAPI, research_calibration: Path) -> None:
    # SE 0.3 cannot be reached with two or three items: every scale stops at max_items.
    rules = AdaptiveRules(min_items=2, max_items=3, randomesque=1)
    administration_id, link = adaptive_link(app, research_calibration, form_id="intake", rules=rules)
    client = new_client(app)
    page = start(client, link)
    assert "Question 1 (at most 3)" in page.text
    n_questions = 0
    while page.url.path.endswith("/question"):
        [item_id] = item_ids_on(page.text)
        page = post_answer(client, link, page.text, item_id, "4")
        n_questions += 1
    assert n_questions == 9 and page.url.path == f"{link}/review"
    answers = stored_answers(app, administration_id)
    form = load_form("intake")
    assert [sum(i in answers for i in scale.items) for scale in form.scales] == [3, 3, 3]
    late = post_answer(client, link, page.text, next(i for i in form.item_ids if i not in answers), "4")
    assert late.status_code == 400 and len(stored_answers(app, administration_id)) == 9


# ---------------------------------------------------------------------- scores for the report


def test_report_data_carry_theta_from_the_asked_items(app: FastAPI, research_calibration: Path) -> None:
    administration_id, link = adaptive_link(app, research_calibration, form_id="intake")
    client = new_client(app)
    page = start(client, link)
    while page.url.path.endswith("/question"):
        [item_id] = item_ids_on(page.text)
        page = post_answer(client, link, page.text, item_id, "5")
    client.post(f"{link}/submit", data={"csrf_token": csrf_of(page.text)})
    store: Repository = app.state.repository
    [entry] = store.responses(administration_id, submitted_only=True)
    form = load_form("intake")
    report = respondent_report(form, form.referent, entry, None, {})
    assert report.adaptive and report.irt_source == "simulated"
    for scale_report in report.scales:
        scale = form.scale(scale_report.id)
        asked = [i for i in scale.items if i in entry.answers]
        calibrated = read_calibration(research_calibration / f"{form.item(asked[0]).bank}.yaml").scale(scale.id)
        keyed = pd.DataFrame([{i: (1 if form.item(i).reverse else 5) for i in asked}])
        expected = pm.eap_scores(calibrated.parameters(asked), keyed, first_category=1).iloc[0]
        assert scale_report.theta == pytest.approx(expected["theta"], abs=1e-12)
        assert scale_report.theta_se == pytest.approx(expected["se"], abs=1e-12)
        assert scale_report.irt_t == pytest.approx(50 + 10 * expected["theta"], abs=1e-10)


# ---------------------------------------------------------------------- creating one, and the schema


def test_administration_create_adaptive_command(tmp_path: Path, research_calibration: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "RCTSCALE_DATABASE_URL": database}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rctscale.cli", "administration", "create", *args],
                              capture_output=True, text=True, env=env, timeout=300)

    made = run("research", "--public", "--adaptive", "--calibration", str(research_calibration), "--max-items", "10")
    assert made.returncode == 0, made.stderr
    assert "adaptive: connection (41 items), mutuality (40 items), shame (31 items), guilt (5 items)" in made.stdout
    assert "SIMULATED" in made.stdout
    (tmp_path / "empty").mkdir()
    refused = run("research", "--public", "--adaptive", "--calibration", str(tmp_path / "empty"))
    assert refused.returncode == 1 and "no calibration of bank(s) connection, mutuality, shame" in refused.stderr
    assert "Traceback" not in refused.stderr
    store = Repository(make_engine(database))
    [summary] = store.administrations()
    administration = summary.administration
    assert administration.adaptive and json.loads(administration.cat_rules)["max_items"] == 10
    assert set(json.loads(administration.calibration)) == {"connection", "mutuality", "shame"}
    store.engine.dispose()


def test_migration_0002_adds_the_columns_to_existing_administrations(database_url: str) -> None:
    upgrade_database(database_url, "0001")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO administrations (form_id, form_hash, title, mode, status, created_at) "
            "VALUES ('intake', 'sha256:x', 'Before CAT', 'public', 'open', CURRENT_TIMESTAMP)"))
    assert upgrade_database(database_url) == "0002"
    with engine.connect() as connection:
        row = connection.execute(text("SELECT adaptive, cat_rules, calibration FROM administrations")).one()
    assert tuple(row) == (False, None, None)
    engine.dispose()


def test_an_answer_based_on_a_stale_view_is_not_saved(repository: Repository) -> None:
    """Two tabs: the second chose its question before the first saved; its answer must not slip in."""
    administration = repository.create_administration(form_id="intake", form_hash="sha256:x", title="T",
                                                      referent=None, mode="invitations")
    [(_invitation, token)] = repository.add_invitations(administration.id, [None], expires_in=dt.timedelta(days=1))
    link = repository.resolve_invitation(token)
    assert link is not None
    response = repository.start_response(link)
    assert repository.save_answers(response.id, response.nonce, {"con03": 2}, answered_before=set()) == "saved"
    assert repository.save_answers(response.id, response.nonce, {"con09": 4}, answered_before=set()) == "stale"
    assert repository.save_answers(response.id, response.nonce, {"con09": 4}, answered_before={"con03"}) == "saved"
    assert repository.answers(response.id) == {"con03": 2, "con09": 4}
