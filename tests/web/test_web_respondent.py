"""The respondent's pages through FastAPI's TestClient: consent, paging, save and resume, review, submit."""

from __future__ import annotations

import re

from fastapi import FastAPI
from webtools import answer_all, create_administration, csrf_of, item_ids_on, new_client, signed_in_client, start

from rctscale.bank import load_form


def test_invitation_flow_end_to_end_on_each_database(any_db_app: FastAPI) -> None:
    staff = signed_in_client(any_db_app, "clinician")
    _id, [link] = create_administration(staff, mode="invitations", labels="Patient A")
    respondent = new_client(any_db_app)
    intro = respondent.get(link)
    assert "Before you start" in intro.text and 'name="consent"' in intro.text
    review = answer_all(respondent, link, value="3")
    assert "You have answered every statement." in review.text
    thanks = respondent.post(f"{link}/submit", data={"csrf_token": csrf_of(review.text)})
    assert thanks.url.path == "/thanks" and "Thank you" in thanks.text
    store = any_db_app.state.repository
    assert store.count_responses(status="submitted") == 1
    [entry] = store.responses(_id)
    form = load_form("intake")
    assert entry.answers == {item_id: 3 for item_id in form.item_ids}
    assert entry.response.form_hash == form.content_hash
    assert entry.response.started_at <= entry.response.submitted_at


def test_pages_are_fieldsets_with_labels_and_progress(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff, referent="my sister")
    page = start(client, link)
    assert page.url.path == f"{link}/page/1"
    assert "Page 1 of 3" in page.text
    ids = item_ids_on(page.text)
    assert len(ids) == 8
    assert page.text.count("<fieldset") == 8 and page.text.count("<legend>") == 8
    for item_id in ids:
        for value in ("1", "2", "3", "4", "5", "declined"):
            assert f'<label for="{item_id}-{value}">' in page.text
    assert page.text.count("Prefer not to answer") == 8
    assert "my sister" in page.text or "My sister" in page.text  # the administration's referent override


def test_consent_is_required(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff)
    intro = client.get(link)
    refused = client.post(f"{link}/start", data={"csrf_token": csrf_of(intro.text)})
    assert refused.status_code == 400 and "tick the box" in refused.text
    assert app.state.repository.count_responses() == 0


def test_public_link_saves_every_page_and_resumes_by_cookie(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "researcher")
    _id, [link] = create_administration(staff)
    page = start(client, link)
    ids = item_ids_on(page.text)
    saved = client.post(page.url.path, data={"csrf_token": csrf_of(page.text), "action": "save", ids[0]: "2",
                                             ids[1]: "declined"})
    assert saved.url.path == f"{link}/saved" and "saved" in saved.text
    intro = client.get(link)
    assert "Continue where I left off" in intro.text
    resumed = client.post(f"{link}/start", data={"csrf_token": csrf_of(intro.text), "consent": "yes"})
    assert resumed.url.path == f"{link}/page/1"
    assert f'id="{ids[0]}-2" name="{ids[0]}" value="2" checked' in resumed.text
    assert f'id="{ids[1]}-declined" name="{ids[1]}" value="declined" checked' in resumed.text
    [entry] = app.state.repository.responses(_id)
    assert entry.answers == {ids[0]: 2, ids[1]: None}
    other_browser = new_client(app)  # no cookie: a new anonymous respondent, not the first one's answers
    assert "Start" in other_browser.get(link).text and "Continue where" not in other_browser.get(link).text


def test_back_goes_to_the_previous_page_and_keeps_answers(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff)
    page1 = start(client, link)
    page2 = client.post(page1.url.path, data={"csrf_token": csrf_of(page1.text), "action": "next"})
    assert "Page 2 of 3" in page2.text
    first_on_2 = item_ids_on(page2.text)[0]
    back = client.post(page2.url.path, data={"csrf_token": csrf_of(page2.text), "action": "back", first_on_2: "5"})
    assert back.url.path == f"{link}/page/1"
    assert app.state.repository.responses(_id)[0].answers == {first_on_2: 5}


def test_review_lists_unanswered_and_links_back(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff)
    start(client, link)
    review = client.get(f"{link}/review")
    assert "18 statements not answered" in review.text
    assert f'href="{link}/page/3"' in review.text


def test_unknown_item_or_out_of_range_value_is_400_and_stores_nothing(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff)
    page = start(client, link)
    token = csrf_of(page.text)
    first = item_ids_on(page.text)[0]
    on_page_3 = load_form("intake").item_ids[-1]
    cases = [{first: "4", "zzz99": "1"}, {first: "6"}, {first: "0"}, {first: "-1"}, {first: "2.5"},
             {first: "abc"}, {on_page_3: "3"}, {first: "1e1"}]
    for answers in cases:
        answer = client.post(page.url.path, data={"csrf_token": token, "action": "next", **answers})
        assert answer.status_code == 400, answers
        assert "Nothing on this page was saved" in answer.text
    duplicate = client.post(page.url.path, content=f"csrf_token={token}&{first}=1&{first}=2".encode(),
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert duplicate.status_code == 400
    assert app.state.repository.responses(_id)[0].answers == {}


def test_double_submit_and_two_tabs_make_one_response(app: FastAPI) -> None:
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff, mode="invitations", count=1)
    tab1, tab2 = new_client(app), new_client(app)
    review = answer_all(tab1, link)
    intro2 = tab2.get(link)  # the second tab opened the same link before the first submitted
    assert "Continue where I left off" in intro2.text
    token = csrf_of(review.text)
    first = tab1.post(f"{link}/submit", data={"csrf_token": token})
    second = tab1.post(f"{link}/submit", data={"csrf_token": token})  # double click
    assert first.url.path == second.url.path == "/thanks"
    late_tab = tab2.post(f"{link}/start", data={"csrf_token": csrf_of(intro2.text), "consent": "yes"})
    assert late_tab.status_code == 404 and "cannot be used" in late_tab.text
    assert app.state.repository.count_responses() == 1


def test_public_double_submit_is_one_response_and_a_new_visit_starts_afresh(client, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_client(app, "admin")
    _id, [link] = create_administration(staff)
    review = answer_all(client, link)
    token = csrf_of(review.text)
    cookie = client.cookies.get("rctscale_respondent")
    assert client.post(f"{link}/submit", data={"csrf_token": token}).url.path == "/thanks"
    client.cookies.set("rctscale_respondent", cookie, domain="testserver.local", path=link)
    assert client.post(f"{link}/submit", data={"csrf_token": token}).url.path == "/thanks"
    assert app.state.repository.count_responses(status="submitted") == 1
    fresh = new_client(app).get(link)
    assert "Start" in fresh.text


def test_thanks_page_is_the_same_for_everyone(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/thanks")
    assert page.status_code == 200 and "Thank you" in page.text
    assert not re.search(r"/i/|/r/", page.text)
