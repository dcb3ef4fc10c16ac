"""API.md contracts: tasks, a lead's routing / SLA / activities / dry run, speed-to-lead."""

import datetime as dt

import pytest
from django.utils import timezone

from routing.models import Assignment, LeadSla
from routing.services import sla_sweep
from tests.conftest import as_user
from tests.routing import factories as rf

pytestmark = pytest.mark.django_db
MON = dt.datetime(2025, 6, 2, 16, 50, tzinfo=dt.UTC)


@pytest.fixture
def world():
    team = rf.team()
    owner, other = rf.rep(team=team), rf.rep(team=team)
    lead, _ = rf.handed_off(at=MON, trigger="demo_request")
    if lead.owner_id != owner.pk:
        owner, other = other, owner
    return {"lead": lead, "owner": owner, "other": other}


def test_tasks_list_filters_and_scope(world, admin_api):
    lead, owner = world["lead"], world["owner"]
    body = as_user(owner.user).get("/api/v1/tasks/?open=true&kind=first_contact").json()
    assert list(body) >= ["results", "next"] and len(body["results"]) == 1
    task = body["results"][0]
    assert {"id", "kind", "lead", "deal", "owner", "due_at", "completed_at"} <= set(task)
    assert (task["kind"], task["lead"], task["owner"]) == ("first_contact", lead.pk, owner.pk)
    assert task["due_at"].startswith("2025-06-02T16:55")
    assert as_user(world["other"].user).get("/api/v1/tasks/").json()["results"] == []
    assert len(admin_api.get(f"/api/v1/tasks/?owner={owner.pk}").json()["results"]) == 1
    assert admin_api.get("/api/v1/tasks/?open=false").json()["results"] == []
    assert admin_api.get("/api/v1/tasks/?kind=nope").status_code == 400


def test_routing_endpoint_and_permissions(world, admin_api, api):
    lead = world["lead"]
    response = as_user(world["owner"].user).get(f"/api/v1/leads/{lead.pk}/routing/")
    assert response.status_code == 200
    row = response.json()["results"][0]
    assert row["rep"] == world["owner"].pk and row["rule"] == "Round-robin" and row["is_current"]
    assert row["skipped"][0]["rule"] == "Named / target account owner" and row["skipped"][0]["why"]
    assert row["policy"] == "Speed-to-lead (hot leads)"
    assert as_user(world["other"].user).get(f"/api/v1/leads/{lead.pk}/routing/").status_code == 403
    assert admin_api.get("/api/v1/leads/999999/routing/").status_code == 404
    assert api.get(f"/api/v1/leads/{lead.pk}/routing/").status_code == 401


def test_sla_endpoint_shows_escalations(world, admin_api):
    lead = world["lead"]
    sla_sweep(now=dt.datetime(2025, 6, 3, 9, 5, tzinfo=dt.UTC))
    body = admin_api.get(f"/api/v1/leads/{lead.pk}/sla/").json()
    assert body["policy"] == "Speed-to-lead (hot leads)"
    assert body["first_contact_due"].startswith("2025-06-02T16:55")
    assert body["first_contact_at"] is None and body["breached"] is True
    assert [(e["action"], e["to"]) for e in body["escalations"]] == [("alert_backup", None)]
    assert body["escalations"][0]["at"].startswith("2025-06-03T09:05")
    assert admin_api.get("/api/v1/leads/999999/sla/").status_code == 404
    assert as_user(world["other"].user).get(f"/api/v1/leads/{lead.pk}/sla/").status_code == 403


def test_activity_is_first_contact_and_stops_chain(world):
    lead, client = world["lead"], as_user(world["owner"].user)
    response = client.post(f"/api/v1/leads/{lead.pk}/activities/",
                           {"kind": "call", "occurred_at": "2025-06-02T16:53:00Z", "note": "hi"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["first_contact"] is True and response.json()["kind"] == "call"
    assert client.post(f"/api/v1/leads/{lead.pk}/activities/", {"kind": "fax"}, format="json").status_code == 400
    body = client.get(f"/api/v1/leads/{lead.pk}/sla/").json()
    assert body["first_contact_at"].startswith("2025-06-02T16:53") and body["breached"] is False
    assert sla_sweep(now=dt.datetime(2025, 6, 3, 12, tzinfo=dt.UTC)).fired == 0
    assert client.get("/api/v1/tasks/?open=true").json()["results"] == []
    other = as_user(world["other"].user)
    assert other.post(f"/api/v1/leads/{lead.pk}/activities/", {"kind": "call"}, format="json").status_code == 403


def test_dry_run_endpoint(world, admin_api):
    lead = world["lead"]
    before = Assignment.objects.count()
    response = admin_api.post(f"/api/v1/leads/{lead.pk}/routing/dry-run/", {"trigger": "demo_request"},
                              format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["rule"] == "Round-robin" and body["rep"] in (world["owner"].pk, world["other"].pk)
    assert body["policy"] == "Speed-to-lead (hot leads)" and len(body["skipped"]) == 4
    assert Assignment.objects.count() == before
    assert admin_api.post("/api/v1/leads/999999/routing/dry-run/", {}, format="json").status_code == 404


def test_speed_to_lead_metrics(admin_api):
    team = rf.team()
    rep = rf.rep(team=team)
    minutes = [3, 10, 60]
    for m in minutes:
        lead, _ = rf.handed_off(at=MON - dt.timedelta(hours=6), trigger="demo_request")  # Mon 10:50, 5 min SLA
        from routing.services import activity_log

        activity_log(lead=lead, kind="email", occurred_at=lead.mql_at + dt.timedelta(minutes=m))
    rf.handed_off(at=MON - dt.timedelta(hours=6))  # not contacted, overdue now -> counts against the share
    body = admin_api.get("/api/v1/metrics/speed-to-lead/?start=2025-06-02&end=2025-06-02").json()
    assert body["count"] == 3
    assert body["mean_minutes"] == pytest.approx(24.33, abs=0.01)
    assert body["median_minutes"] == 10
    assert body["within_sla_share"] == 0.25
    assert body["by_rep"] == [{"rep": rep.pk, "count": 3, "mean_minutes": pytest.approx(24.33, abs=0.01)}]
    assert body["by_hour"][0]["hour"] == 10
    empty = admin_api.get("/api/v1/metrics/speed-to-lead/?start=2024-01-01&end=2024-01-02").json()
    assert (empty["count"], empty["mean_minutes"], empty["median_minutes"]) == (0, None, None)
    assert admin_api.get("/api/v1/metrics/speed-to-lead/?start=2025-06-05&end=2025-06-01").status_code == 400
    assert admin_api.get("/api/v1/metrics/speed-to-lead/?start=nope").status_code == 400
    assert LeadSla.objects.count() == 4 and timezone.now() > MON
