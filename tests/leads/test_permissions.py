"""Permission matrix: rep / other rep / manager / staff / anonymous x read / change."""

import pytest
from rest_framework.test import APIClient

from leads import access
from routing.models import Assignment, Rep
from tests import factories
from tests.conftest import as_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    team = factories.TeamFactory(name="West")
    other_team = factories.TeamFactory(name="East")
    manager = factories.RepFactory(team=team, role=Rep.Role.MANAGER)
    rep = factories.RepFactory(team=team, manager=manager)
    teammate = factories.RepFactory(team=team, manager=manager)
    outsider = factories.RepFactory(team=other_team)
    staff = factories.UserFactory(is_staff=True)
    owned = factories.LeadFactory(owner=rep.user, email="owned@acme.io")
    queued = factories.LeadFactory(owner=None, email="queued@acme.io")
    Assignment.objects.create(lead=queued, team=team, rule="fallback_queue")
    return {"rep": rep.user, "teammate": teammate.user, "manager": manager.user, "outsider": outsider.user,
            "staff": staff, "owned": owned, "queued": queued}


def client_for(world, who):
    return APIClient() if who == "anonymous" else as_user(world[who])


@pytest.mark.parametrize("who, owned, queued", [
    ("rep", 200, 200),
    ("teammate", 403, 200),
    ("manager", 200, 200),
    ("outsider", 403, 403),
    ("staff", 200, 200),
    ("anonymous", 401, 401),
])
def test_read_matrix(world, who, owned, queued):
    client = client_for(world, who)
    assert client.get(f"/api/v1/leads/{world['owned'].pk}/").status_code == owned
    assert client.get(f"/api/v1/leads/{world['queued'].pk}/").status_code == queued
    assert client.get(f"/api/v1/leads/{world['owned'].pk}/history/").status_code == owned


@pytest.mark.parametrize("who, status", [
    ("rep", 200), ("teammate", 403), ("manager", 200), ("outsider", 403), ("staff", 200), ("anonymous", 401),
])
def test_change_matrix(world, who, status):
    response = client_for(world, who).post("/api/v1/leads/", {"email": "owned@acme.io", "title": "CTO"},
                                            format="json")
    assert response.status_code == status
    world["owned"].refresh_from_db()
    assert world["owned"].title == ("CTO" if status == 200 else "")


@pytest.mark.parametrize("who, emails", [
    ("rep", ["owned@acme.io", "queued@acme.io"]),
    ("teammate", ["queued@acme.io"]),
    ("manager", ["owned@acme.io", "queued@acme.io"]),
    ("outsider", []),
    ("staff", ["owned@acme.io", "queued@acme.io"]),
])
def test_list_is_scoped(world, who, emails):
    results = client_for(world, who).get("/api/v1/leads/").json()["results"]
    assert sorted(r["email"] for r in results) == emails


def test_user_without_sales_profile_sees_nothing_and_cannot_create(world):
    nobody = factories.UserFactory()
    assert access.scope_for(nobody) == access.NONE
    client = as_user(nobody)
    assert client.get("/api/v1/leads/").json()["results"] == []
    assert client.post("/api/v1/leads/", {"email": "new@x.io"}, format="json").status_code == 403


def test_configuration_is_for_managers_and_admins(world):
    payload = {"name": "North", "timezone": "Europe/Berlin", "holiday_country": "DE", "work_start": "08:00",
               "work_end": "16:00", "work_days": [0, 1, 2, 3, 4], "queue_sla_minutes": 60}
    assert as_user(world["rep"]).post("/api/v1/teams/", payload, format="json").status_code == 403
    assert as_user(world["staff"]).post("/api/v1/teams/", payload, format="json").status_code == 201
    assert APIClient().get("/api/v1/teams/").status_code == 401


def test_a_lead_with_many_assignments_is_listed_once(world):
    for _ in range(3):
        Assignment.objects.create(lead=world["owned"], team=world["owned"].owner.rep.team, rule="rr",
                                  is_current=False)
    results = as_user(world["rep"]).get("/api/v1/leads/").json()["results"]
    assert sorted(r["email"] for r in results) == ["owned@acme.io", "queued@acme.io"]
