"""Every reason code through the API with exact scores after rejection, then re-engagement:
a recycled lead re-qualifies at once with ``is_recycled``, is routed again, and the metric counts it."""

import datetime as dt

import pytest
from django.utils import timezone

from leads.models import Lead, NurtureEnrollment
from revops.models import Notification
from routing.models import Assignment
from tests import factories
from tests.conftest import as_user
from tests.routing import factories as rf

pytestmark = pytest.mark.django_db

RECYCLE_DAYS = {"ENG-01": 90, "ENG-02": 60, "QUAL-01": 90, "QUAL-02": 90}


@pytest.fixture
def world(admin_user):
    team = rf.team(work_start=dt.time(0, 0), work_end=dt.time(23, 59), work_days=[0, 1, 2, 3, 4, 5, 6])
    rep = rf.rep(team=team)
    admin = as_user(admin_user)
    lead = admin.post("/api/v1/leads/", {
        "email": "kim@acme.example", "first_name": "Kim", "last_name": "Lee", "title": "Director of IT",
        "company": {"name": "Acme", "domain": "acme.example", "employees": 400, "industry": "software"}},
        format="json").json()
    NurtureEnrollment.objects.create(lead_id=lead["id"], sequence="initial")
    return {"admin": admin, "rep": rep, "lead": lead["id"]}


def post_event(client, lead_id, kind, key):
    response = client.post("/api/v1/events/", {"lead": lead_id, "type": kind, "idempotency_key": key,
                                               "occurred_at": timezone.now().isoformat()}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.parametrize("code, stage", [
    ("FIT-01", "recycled"), ("FIT-02", "archived"), ("FIT-03", "recycled"), ("ENG-01", "recycled"),
    ("ENG-02", "recycled"), ("QUAL-01", "recycled"), ("QUAL-02", "recycled"), ("QUAL-03", "archived"),
])
def test_reason_code_outcome_and_re_entry(world, code, stage, django_capture_on_commit_callbacks):
    admin, lead_id, rep = world["admin"], world["lead"], world["rep"]
    post_event(admin, lead_id, "pricing_page_view", "p1")
    mql = post_event(admin, lead_id, "demo_request", "d1")
    assert (mql["lifecycle_stage"], mql["fit_score"], mql["engagement_score"], mql["owner"]) == (
        "mql", 30, 45, rep.pk)
    assert NurtureEnrollment.objects.get(lead_id=lead_id, sequence="initial").state == "paused"

    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        rejected = as_user(rep.user).post(f"/api/v1/leads/{lead_id}/reject/", {"reason_code": code}, format="json")
    assert rejected.status_code == 200, rejected.json()
    body = rejected.json()
    # Engagement resets to 0 (earlier events stop counting); fit is kept.
    assert (body["lifecycle_stage"], body["fit_score"], body["engagement_score"], body["score"]) == (
        stage, 30, 0, 30)
    lead = Lead.objects.get(pk=lead_id)
    if code in RECYCLE_DAYS:
        assert before + dt.timedelta(days=RECYCLE_DAYS[code]) <= lead.recycle_at <= timezone.now() + dt.timedelta(
            days=RECYCLE_DAYS[code])
    else:
        assert lead.recycle_at is None
    states = dict(NurtureEnrollment.objects.filter(lead_id=lead_id).values_list("sequence", "state"))
    expected_recycling = {"FIT-01": "active", "FIT-03": "active"}.get(code, None if stage == "archived" else "paused")
    assert (states["initial"], states.get("recycling")) == ("stopped", expected_recycling)
    assert Notification.objects.filter(event="nurture.changed").exists()

    # Re-engagement: a demo request qualifies a recycled lead at once, whatever its recycle date.
    again = post_event(admin, lead_id, "demo_request", "d2")
    if stage == "archived":
        assert (again["lifecycle_stage"], again["engagement_score"]) == ("archived", 30)
        return
    assert (again["lifecycle_stage"], again["fit_score"], again["engagement_score"], again["score"]) == (
        "mql", 30, 30, 60)
    lead.refresh_from_db()
    assert lead.is_recycled is True
    current = Assignment.objects.get(lead_id=lead_id, is_current=True)
    assert current.note == "recycled MQL" and current.rep_id == rep.pk
    assert Assignment.objects.filter(lead_id=lead_id).count() == 2


def test_recycled_mql_conversion_is_a_metric(world):
    admin, lead_id, rep = world["admin"], world["lead"], world["rep"]
    post_event(admin, lead_id, "demo_request", "d1")
    as_user(rep.user).post(f"/api/v1/leads/{lead_id}/reject/", {"reason_code": "ENG-02"}, format="json")
    post_event(admin, lead_id, "demo_request", "d2")
    today = timezone.now().date().isoformat()
    url = f"/api/v1/metrics/marketing/?start={today}&end={today}"
    assert admin.get(url).json()["recycled"]["recycled_mqls"] == 1
    accepted = as_user(rep.user).post(f"/api/v1/leads/{lead_id}/accept/", {"need": True, "timeline": True},
                                      format="json")
    assert accepted.status_code == 200
    recycled = admin.get(url).json()["recycled"]
    assert (recycled["recycled_mqls"], recycled["recycled_sqls"], recycled["recycled_rate"]) == (1, 1, 1.0)
    # Another lead qualifying for the first time is counted apart.
    other = factories.LeadFactory(email="new@acme.example", account=Lead.objects.get(pk=lead_id).account,
                                  first_name="New", title="VP Sales", lifecycle_stage="lead")
    post_event(admin, other.pk, "demo_request", "d3")
    recycled = admin.get(url).json()["recycled"]
    assert (recycled["recycled_mqls"], recycled["new_mqls"]) == (1, 1)
