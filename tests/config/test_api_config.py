"""Configuration API of API.md: teams, reps (creating the user), territories."""

import pytest
from django.contrib.auth import get_user_model

from routing.models import Rep
from tests import factories
from tests.conftest import as_user

pytestmark = pytest.mark.django_db

TEAM = {"name": "West", "queue_sla_minutes": 60, "timezone": "America/Los_Angeles", "holiday_country": "US",
        "work_start": "09:00", "work_end": "17:30", "work_days": [0, 1, 2, 3, 4]}


def test_team_create_and_read_shape(admin_api):
    response = admin_api.post("/api/v1/teams/", TEAM, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {"id": body["id"], **TEAM}
    assert admin_api.get(f"/api/v1/teams/{body['id']}/").json() == body
    assert admin_api.get("/api/v1/teams/").json()["results"] == [body]


@pytest.mark.parametrize("change, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"holiday_country": "XX"}, "holiday_country"),
    ({"work_start": "25:00"}, "work_start"),
    ({"work_end": "08:00"}, "work_end"),
    ({"work_days": [7]}, "work_days"),
    ({"queue_sla_minutes": -5}, "queue_sla_minutes"),
    ({"name": ""}, "name"),
])
def test_team_bad_input_names_the_field(admin_api, change, field):
    response = admin_api.post("/api/v1/teams/", {**TEAM, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_rep_create_makes_the_user_and_profile(admin_api):
    team = factories.TeamFactory()
    manager = factories.RepFactory(team=team, role=Rep.Role.MANAGER)
    response = admin_api.post("/api/v1/reps/", {
        "username": "sam", "email": "sam@corp.io", "team": team.pk, "role": "sdr", "manager": manager.pk,
        "password": "long-enough-pw", "capacity": 30, "quota_attainment": 0.8, "timezone": "Europe/London",
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    user = get_user_model().objects.get(username="sam")
    assert body == {"id": user.pk, "username": "sam", "email": "sam@corp.io", "team": team.pk, "role": "sdr",
                    "manager": manager.pk, "backup": None, "capacity": 30, "on_pto": False,
                    "quota_attainment": 0.8, "timezone": "Europe/London", "territories": [], "active": True}
    assert user.check_password("long-enough-pw")
    assert "password" not in body


def test_rep_patch_and_duplicate_username(admin_api):
    rep = factories.RepFactory()
    response = admin_api.patch(f"/api/v1/reps/{rep.pk}/", {"on_pto": True, "capacity": 5}, format="json")
    assert response.status_code == 200
    rep.refresh_from_db()
    assert (rep.on_pto, rep.capacity) == (True, 5)
    duplicate = admin_api.post("/api/v1/reps/", {"username": rep.user.username, "email": "x@y.io",
                                                 "team": rep.team_id, "role": "ae"}, format="json")
    assert duplicate.status_code == 400
    assert "username" in duplicate.json()
    assert admin_api.post("/api/v1/reps/", {"username": "z", "email": "z@y.io", "team": rep.team_id,
                                            "role": "wizard"}, format="json").json().keys() == {"role"}


def test_manager_manages_only_own_team():
    team, other = factories.TeamFactory(), factories.TeamFactory()
    manager = factories.RepFactory(team=team, role=Rep.Role.MANAGER)
    factories.RepFactory(team=other)
    client = as_user(manager.user)
    mine = client.post("/api/v1/reps/", {"username": "new1", "email": "n1@x.io", "team": team.pk, "role": "ae"},
                       format="json")
    assert mine.status_code == 201
    theirs = client.post("/api/v1/reps/", {"username": "new2", "email": "n2@x.io", "team": other.pk,
                                           "role": "ae"}, format="json")
    assert theirs.status_code == 400 and "team" in theirs.json()
    assert {r["team"] for r in client.get("/api/v1/reps/").json()["results"]} == {team.pk}


def test_territory_create_shape_and_bounds(admin_api):
    team = factories.TeamFactory()
    owner = factories.RepFactory(team=team)
    payload = {"name": "West", "priority": 10, "countries": ["US"], "states": ["CA", "WA"], "min_employees": None,
               "max_employees": 1000, "industries": [], "team": team.pk, "owner": owner.pk}
    response = admin_api.post("/api/v1/territories/", payload, format="json")
    assert response.status_code == 201
    assert response.json() == {"id": response.json()["id"], **payload}
    bad = admin_api.post("/api/v1/territories/", {**payload, "name": "B", "min_employees": 500,
                                                  "max_employees": 10}, format="json")
    assert bad.status_code == 400 and "max_employees" in bad.json()
