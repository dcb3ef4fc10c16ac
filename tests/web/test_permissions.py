"""Page permission matrix: rep / other rep / manager / admin / anonymous on every page of the web app."""

import pytest
from django.test import Client

from tests.web.conftest import login

DASHBOARDS = ["/app/dashboards/marketing/", "/app/dashboards/sales/", "/app/dashboards/executive/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/app/", "/app/tasks/", "/app/deals/", "/app/approvals/", *DASHBOARDS,
                                 "/app/dashboards/", "/accounts/password_change/"])
def test_anonymous_is_sent_to_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


@pytest.mark.django_db
def test_anonymous_lead_page_goes_to_login(rep_lead):
    response = Client().get(f"/app/leads/{rep_lead.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_root_redirects_to_app(db):
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"] == "/app/"


def test_queue_shows_own_mqls_and_team_queue_only(rep, rep_lead, queue_lead, other_lead):
    body = login(rep).get("/app/").content.decode()
    assert "Robin Owned" in body and "Quinn Queue" in body
    assert "Olive Other" not in body
    assert 'data-due="' in body


def test_queue_other_rep_sees_only_theirs(other_rep, rep_lead, queue_lead, other_lead):
    body = login(other_rep).get("/app/").content.decode()
    assert "Olive Other" in body
    assert "Robin Owned" not in body and "Quinn Queue" not in body


def test_queue_manager_sees_team(manager, rep_lead, queue_lead, other_lead):
    body = login(manager).get("/app/").content.decode()
    assert "Robin Owned" in body and "Quinn Queue" in body and "Olive Other" not in body


def test_queue_admin_sees_all(admin, rep_lead, queue_lead, other_lead):
    body = login(admin).get("/app/").content.decode()
    assert "Robin Owned" in body and "Quinn Queue" in body and "Olive Other" in body


@pytest.mark.parametrize("who, expected", [("rep", 200), ("other_rep", 403), ("manager", 200), ("admin", 200),
                                           ("teammate", 403)])
def test_lead_page_matrix(request, rep_lead, who, expected):
    user = request.getfixturevalue(who)
    assert login(user).get(f"/app/leads/{rep_lead.pk}/").status_code == expected


@pytest.mark.parametrize("who, expected", [("rep", 200), ("other_rep", 403), ("manager", 200), ("admin", 200)])
def test_team_queue_lead_page_matrix(request, queue_lead, who, expected):
    user = request.getfixturevalue(who)
    assert login(user).get(f"/app/leads/{queue_lead.pk}/").status_code == expected


@pytest.mark.parametrize("who, expected", [("rep", 403), ("other_rep", 403), ("manager", 200), ("admin", 200)])
@pytest.mark.parametrize("url", DASHBOARDS)
def test_dashboard_matrix(request, url, who, expected):
    user = request.getfixturevalue(who)
    response = login(user).get(url)
    assert response.status_code == expected
    if expected == 200:
        assert b"<svg" in response.content


@pytest.mark.parametrize("who", ["rep", "other_rep", "manager", "admin"])
def test_deal_board_and_tasks_open_for_everyone_with_a_scope(request, who):
    client = login(request.getfixturevalue(who))
    assert client.get("/app/deals/").status_code == 200
    assert client.get("/app/tasks/").status_code == 200


def test_user_without_sales_profile_gets_403(db):
    from tests import factories

    user = factories.UserFactory(username="nobody")
    client = login(user)
    assert client.get("/app/deals/").status_code == 403
    assert client.get("/app/dashboards/sales/").status_code == 403
    assert client.get("/app/").status_code == 200  # an empty queue


def test_deal_board_shows_only_visible_deals(rep, other_rep, rep_lead, other_lead):
    from tests.web.test_pages import make_deal

    mine = make_deal(rep_lead, rep, name="Mine deal")
    theirs = make_deal(other_lead, other_rep, name="Theirs deal")
    body = login(rep).get("/app/deals/").content.decode()
    assert mine.name in body and theirs.name not in body
    assert login(rep).get(f"/app/deals/{theirs.pk}/move/?to=discovery").status_code == 403


def test_dashboard_link_only_for_managers(rep, manager):
    assert b"/app/dashboards/" not in login(rep).get("/app/").content
    assert b"/app/dashboards/" in login(manager).get("/app/").content
