"""The spine of the product (SPEC §2) through the public API only: intake -> events -> score -> MQL ->
route -> handoff -> first contact -> accept -> convert -> pipeline -> closed won -> customer."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from pipeline.models import Deal, Task
from revops.models import Notification

pytestmark = pytest.mark.django_db


def token_client(username, password):
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")
    assert token.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    return client


def test_from_first_event_to_customer(admin_user, django_capture_on_commit_callbacks):
    admin = token_client("admin", "pass-word-123")
    team = admin.post("/api/v1/teams/", {"name": "Always on", "timezone": "UTC", "work_start": "00:00",
                                         "work_end": "23:59", "work_days": [0, 1, 2, 3, 4, 5, 6],
                                         "holiday_country": None, "queue_sla_minutes": 60}, format="json")
    assert team.status_code == 201, team.json()
    rep = admin.post("/api/v1/reps/", {"username": "ava", "email": "ava@corp.io", "team": team.json()["id"],
                                       "role": "ae", "password": "ava-password-1"}, format="json")
    assert rep.status_code == 201, rep.json()
    rep_id = rep.json()["id"]

    created = admin.post("/api/v1/leads/", {
        "email": "Dana@Bigco.example", "first_name": "Dana", "last_name": "Scully", "title": "VP Operations",
        "source": "webinar", "company": {"name": "BigCo", "domain": "bigco.example", "employees": 200,
                                         "industry": "software", "country": "US", "state": "CA"}}, format="json")
    assert created.status_code == 201, created.json()
    lead = created.json()
    assert (lead["lifecycle_stage"], lead["fit_score"], lead["engagement_score"]) == ("lead", 30, 0)

    now = timezone.now().isoformat()
    pricing = admin.post("/api/v1/events/", {"email": "dana@bigco.example", "type": "pricing_page_view",
                                             "occurred_at": now, "idempotency_key": "evt-1"}, format="json")
    assert pricing.status_code == 201, pricing.json()
    assert (pricing.json()["lifecycle_stage"], pricing.json()["score"]) == ("lead", 45)

    demo = {"lead": lead["id"], "type": "demo_request", "occurred_at": now, "idempotency_key": "evt-2"}
    with django_capture_on_commit_callbacks(execute=True):
        first = admin.post("/api/v1/events/", demo, format="json")
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["lifecycle_stage"], body["score"], body["owner"], body["duplicate"]) == ("mql", 75, rep_id, False)
    retry = admin.post("/api/v1/events/", demo, format="json")
    assert retry.status_code == 200
    assert (retry.json()["duplicate"], retry.json()["event_id"], retry.json()["score"]) == (
        True, body["event_id"], 75)

    mql_events = Notification.objects.filter(event="lead.mql")
    assert [(n.payload["lead"], n.payload["owner"]) for n in mql_events] == [(lead["id"], rep_id)]
    assert Notification.objects.filter(event="lead.assigned", channel="email", recipient="ava@corp.io").count() == 1

    detail = admin.get(f"/api/v1/leads/{lead['id']}/").json()
    assert sum(item["points"] for item in detail["score_breakdown"]) == detail["score"] == 75
    demo_item = next(item for item in detail["score_breakdown"] if item["rule"] == "Demo request")
    assert (demo_item["points"], demo_item["events"]) == (30, [body["event_id"]])

    routing = admin.get(f"/api/v1/leads/{lead['id']}/routing/").json()["results"]
    assert [(r["rep"], r["is_current"]) for r in routing] == [(rep_id, True)]
    assert Task.objects.filter(lead_id=lead["id"], kind="first_contact", owner_id=rep_id).count() == 1

    ava = token_client("ava", "ava-password-1")
    touch = ava.post(f"/api/v1/leads/{lead['id']}/activities/", {"kind": "call",
                                                                "occurred_at": timezone.now().isoformat(),
                                                                "note": "Discussed the pilot"}, format="json")
    assert touch.status_code == 201, touch.json()
    sla = ava.get(f"/api/v1/leads/{lead['id']}/sla/").json()
    assert sla["first_contact_at"] is not None and sla["breached"] is False, (sla, touch.json())

    accepted = ava.post(f"/api/v1/leads/{lead['id']}/accept/", {"budget": True, "authority": True},
                        format="json")
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["lifecycle_stage"] == "sql"
    sql_clock = ava.get(f"/api/v1/leads/{lead['id']}/sla/").json()["sql"]
    assert sql_clock["discovery_due"] is not None and sql_clock["opportunity_due"] is not None
    assert Task.objects.filter(lead_id=lead["id"], kind="discovery_call", completed_at__isnull=True).count() == 1

    converted = ava.post(f"/api/v1/leads/{lead['id']}/convert/", {"amount": "20000", "close_date": "2027-03-31",
                                                                 "name": "BigCo pilot"}, format="json")
    assert converted.status_code == 200, converted.json()
    deal_id = converted.json()["deal"]
    steps = [
        {"to": "discovery", "pain_points": "manual routing", "current_solution": "spreadsheets",
         "timeline": "Q1"},
        {"to": "demo", "technical_requirements": "SSO", "decision_makers": "CTO, VP Ops"},
        {"to": "proposal", "pricing": "20k/yr", "terms": "annual", "stakeholder_map": "CTO signs"},
        {"to": "negotiation", "redlines": "none", "approval_chain": "CTO"},
        {"to": "closed_won", "signed_contract": "DOC-1", "payment_terms": "net 30"},
    ]
    for step in steps:
        moved = ava.post(f"/api/v1/deals/{deal_id}/transition/", step, format="json")
        assert moved.status_code == 200, (step["to"], moved.json())
    assert Deal.objects.get(pk=deal_id).stage == "closed_won"
    final = ava.get(f"/api/v1/leads/{lead['id']}/").json()
    assert final["lifecycle_stage"] == "customer"
    stages = [(h["old"], h["new"]) for h in ava.get(f"/api/v1/leads/{lead['id']}/history/").json()
              if h["field"] == "lifecycle_stage"]
    assert stages == [(None, "subscriber"), ("subscriber", "lead"), ("lead", "mql"), ("mql", "sql"),
                      ("sql", "opportunity"), ("opportunity", "customer")]


def test_archiving_an_mql_from_the_admin_closes_its_sla_at_once(admin_user, client):
    from revops.flows.handoff import lead_handoff
    from routing.models import SlaStep
    from tests import factories
    from tests.routing import factories as rf

    rf.rep(team=rf.team())
    lead = factories.LeadFactory(lifecycle_stage="mql", mql_criteria_met=True, mql_at=timezone.now())
    lead_handoff(lead=lead, at=timezone.now(), trigger="form")
    assert SlaStep.objects.filter(sla__lead=lead, status="pending").exists()
    client.force_login(admin_user)
    response = client.post(f"/admin/leads/lead/{lead.pk}/transition/archive/", {"cause": "duplicate person"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "archived"
    assert not SlaStep.objects.filter(sla__lead=lead, status="pending").exists()
    assert not Task.objects.filter(lead=lead, completed_at__isnull=True).exists()
