"""API.md contract: /api/v1/scoring-models/ and /api/v1/events/ (single and bulk)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from leads.models import EngagementEvent, Lead
from scoring.models import ScoringModel
from tests import factories
from tests.conftest import as_user
from tests.scoring.factories import SIMPLE_RULES, active_model

pytestmark = pytest.mark.django_db

API_EXAMPLE = {
    "name": "Mid-market", "segment": "default", "mql_threshold": 60, "min_fit": 20, "min_engagement": 20,
    "fast_track_events": ["demo_request", "contact_sales"], "cooldown_minutes": 30,
    "rules": [
        {"kind": "fit", "field": "company.employees", "op": "between", "value": [50, 1000], "points": 15,
         "label": "Company size 50-1000"},
        {"kind": "fit", "field": "title_level", "op": "in", "value": ["manager", "director", "vp"], "points": 15},
        {"kind": "engagement", "event": "pricing_page_view", "points": 15, "decay_points": 5, "decay_days": 7},
        {"kind": "engagement", "event": "email_click", "points": 10, "min_count": 3, "window_days": 30},
        {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "personal", "points": -10},
        {"kind": "negative", "event": "unsubscribe", "points": -20}],
}


def now_iso(delta=timedelta(0)):
    return (timezone.now() + delta).isoformat()


def test_scoring_model_post_is_a_draft_then_activate_answers_200(admin_api):
    response = admin_api.post("/api/v1/scoring-models/", API_EXAMPLE, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["version"], body["rules"]) == ("draft", 1, API_EXAMPLE["rules"])
    again = admin_api.post("/api/v1/scoring-models/", API_EXAMPLE, format="json").json()
    assert again["version"] == 2
    activated = admin_api.post(f"/api/v1/scoring-models/{body['id']}/activate/", {"note": "approved in QBR"},
                               format="json")
    assert activated.status_code == 200
    data = activated.json()
    assert (data["status"], data["approval_note"]) == ("active", "approved in QBR")
    assert data["approved_by"] is not None and data["rescore_job"]["status"] == "done"
    assert ScoringModel.objects.get(segment="default", status="active").pk == body["id"]
    listing = admin_api.get("/api/v1/scoring-models/?segment=default&status=active").json()
    assert [m["id"] for m in listing["results"]] == [body["id"]]


def test_scoring_model_bad_rule_is_400_naming_rules(admin_api):
    bad = {**API_EXAMPLE, "rules": [{"kind": "fit", "field": "shoe_size", "op": "eq", "value": 1, "points": 1}]}
    response = admin_api.post("/api/v1/scoring-models/", bad, format="json")
    assert response.status_code == 400 and "rules" in response.json()


def test_patch_of_an_active_model_answers_the_new_version(admin_api):
    model = active_model()
    response = admin_api.patch(f"/api/v1/scoring-models/{model.pk}/", {"mql_threshold": 70}, format="json")
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["status"]) == (2, "draft")


def test_reps_may_read_but_not_configure_models():
    rep = factories.RepFactory()
    client = as_user(rep.user)
    assert client.get("/api/v1/scoring-models/").status_code == 200
    assert client.post("/api/v1/scoring-models/", API_EXAMPLE, format="json").status_code == 403


def test_event_201_then_duplicate_200_changes_nothing(admin_api):
    active_model()
    lead = factories.LeadFactory(title="VP Sales")
    body = {"lead": lead.pk, "type": "pricing_page_view", "occurred_at": now_iso(), "idempotency_key": "evt-1",
            "properties": {"url": "/pricing"}}
    first = admin_api.post("/api/v1/events/", body, format="json")
    assert first.status_code == 201, first.json()
    reply = first.json()
    assert set(reply) == {"event_id", "duplicate", "lead_id", "lifecycle_stage", "fit_score",
                          "engagement_score", "score", "owner"}
    assert (reply["duplicate"], reply["lead_id"], reply["fit_score"], reply["engagement_score"],
            reply["score"], reply["lifecycle_stage"], reply["owner"]) == (False, lead.pk, 30, 15, 45, "lead", None)
    second = admin_api.post("/api/v1/events/", {**body, "type": "demo_request"}, format="json")
    assert second.status_code == 200
    assert second.json() == {**reply, "duplicate": True}
    assert EngagementEvent.objects.count() == 1


def test_event_qualifies_in_the_same_request(admin_api, handoff_calls):
    active_model()
    lead = factories.LeadFactory(title="VP Sales")
    reply = admin_api.post("/api/v1/events/", {"lead": lead.pk, "type": "demo_request", "occurred_at": now_iso(),
                                               "idempotency_key": "d1"}, format="json").json()
    assert (reply["score"], reply["lifecycle_stage"]) == (60, "mql")
    assert [c["trigger"] for c in handoff_calls] == ["demo_request"]
    detail = admin_api.get(f"/api/v1/leads/{lead.pk}/").json()
    assert sum(item["points"] for item in detail["score_breakdown"]) == detail["score"] == 60


def test_event_by_unknown_email_creates_a_subscriber(admin_api):
    response = admin_api.post("/api/v1/events/", {"email": "New.Person@Example.org", "type": "blog_visit",
                                                  "occurred_at": now_iso(), "idempotency_key": "b1"},
                              format="json")
    assert response.status_code == 201
    lead = Lead.objects.get(email="new.person@example.org")
    assert (response.json()["lead_id"], response.json()["lifecycle_stage"]) == (lead.pk, "subscriber")


@pytest.mark.parametrize("body, status, field", [
    ({"type": "telepathy"}, 400, "type"),
    ({"occurred_at": "yesterday-ish"}, 400, "occurred_at"),
    ({"occurred_at": "2025-02-30T10:00:00Z"}, 400, "occurred_at"),
    ({"lead": 999999}, 404, "detail"),
    ({"lead": None, "email": None}, 400, "lead"),
    ({"lead": None, "email": "not-an-email"}, 400, "email"),
    ({"properties": ["x"]}, 400, "properties"),
])
def test_event_errors(admin_api, body, status, field):
    lead = factories.LeadFactory()
    payload = {"lead": lead.pk, "type": "blog_visit", "occurred_at": now_iso(), "idempotency_key": "e1", **body}
    response = admin_api.post("/api/v1/events/", payload, format="json")
    assert response.status_code == status
    assert field in response.json()
    assert EngagementEvent.objects.count() == 0


def test_events_need_authentication(api):
    assert api.post("/api/v1/events/", {}, format="json").status_code == 401


def test_bulk_good_items_land_bad_ones_are_reported_and_a_repeated_key_counts_once(admin_api):
    active_model()
    lead = factories.LeadFactory(title="VP Sales")
    t = now_iso()
    items = [
        {"lead": lead.pk, "type": "pricing_page_view", "occurred_at": t, "idempotency_key": "a"},
        {"lead": lead.pk, "type": "telepathy", "occurred_at": t, "idempotency_key": "b"},
        {"lead": lead.pk, "type": "email_click", "occurred_at": t, "idempotency_key": "a"},
        {"lead": 999999, "type": "email_click", "occurred_at": t, "idempotency_key": "c"},
        {"email": "fresh@newco.io", "type": "email_click", "occurred_at": "nope", "idempotency_key": "d"},
        {"email": "fresh@newco.io", "type": "email_click", "occurred_at": t, "idempotency_key": "e"},
    ]
    response = admin_api.post("/api/v1/events/bulk/", items, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["stored"], body["duplicates"]) == (2, 1)
    assert [e["index"] for e in body["errors"]] == [1, 3, 4]
    assert "type" in body["errors"][0]["error"] and "occurred_at" in body["errors"][2]["error"]
    lead.refresh_from_db()
    assert lead.engagement_score == 15
    retry = admin_api.post("/api/v1/events/bulk/", items, format="json").json()
    assert (retry["stored"], retry["duplicates"]) == (0, 3)
    assert EngagementEvent.objects.count() == 2


def test_bulk_qualifies_leads_and_hands_off(admin_api, handoff_calls):
    active_model()
    leads = [factories.LeadFactory(title="VP Sales") for _ in range(3)]
    items = [{"lead": lead.pk, "type": "demo_request", "occurred_at": now_iso(), "idempotency_key": f"d{lead.pk}"}
             for lead in leads]
    assert admin_api.post("/api/v1/events/bulk/", items, format="json").json()["stored"] == 3
    assert set(Lead.objects.values_list("lifecycle_stage", flat=True)) == {"mql"}
    assert sorted(c["lead"] for c in handoff_calls) == sorted(lead.pk for lead in leads)


def test_bulk_over_1000_or_not_a_list_is_400(admin_api):
    assert admin_api.post("/api/v1/events/bulk/", [{}] * 1001, format="json").status_code == 400
    assert admin_api.post("/api/v1/events/bulk/", {"type": "x"}, format="json").status_code == 400


def test_lead_intake_scores_and_auto_qualifies(admin_api):
    active_model(rules=[*SIMPLE_RULES, {"kind": "fit", "field": "source", "op": "eq", "value": "partner",
                                        "points": 30}], min_engagement=0)
    response = admin_api.post("/api/v1/leads/", {
        "email": "ceo@bigco.com", "first_name": "Bo", "last_name": "Ng", "title": "VP Ops", "source": "partner",
        "company": {"name": "BigCo", "employees": 300}}, format="json")
    assert response.status_code == 201
    assert (response.json()["fit_score"], response.json()["lifecycle_stage"]) == (60, "mql")


@pytest.mark.parametrize("history", [1, 40])
def test_single_event_runs_a_fixed_number_of_queries(admin_api, django_assert_num_queries, history):
    active_model()
    lead = factories.LeadFactory(title="Engineer")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    EngagementEvent.objects.bulk_create([
        EngagementEvent(lead=lead, type=t, occurred_at=start + timedelta(hours=i), idempotency_key=f"h{i}{t}")
        for i in range(history) for t in ("pricing_page_view", "email_click", "blog_visit")])
    body = {"lead": lead.pk, "type": "pricing_page_view", "occurred_at": now_iso(), "idempotency_key": "q"}
    # Exactly the same count for 3 and 120 past events (see revops/flows/events.py for the list).
    with django_assert_num_queries(QUERIES):
        assert admin_api.post("/api/v1/events/", body, format="json").status_code == 201


# SAVEPOINT, the lead (locked, with account and deal flags), INSERT event ON CONFLICT DO NOTHING RETURNING,
# active models, the events that can still count, UPDATE lead, its history row, the ScoreChange, the account
# score upsert, RELEASE SAVEPOINT (it was 14: separate key check, deal query and account update + insert).
QUERIES = 10
