"""The set-based bulk path (issue 3 item 10): same results as one event at a time, fixed query count."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import EngagementEvent, Lead
from revops.flows.events import event_ingest, events_ingest_bulk
from revops.models import Notification
from scoring.models import AccountScore, ScoreChange
from tests import factories
from tests.scoring.factories import active_model

pytestmark = pytest.mark.django_db

TYPES = ["pricing_page_view", "email_click", "blog_visit", "case_study_view", "unsubscribe", "email_open"]
SCORE_COLUMNS = ("fit_score", "engagement_score", "score", "score_breakdown", "mql_criteria_met",
                 "suppression_reason", "opted_out", "last_engaged_at", "lifecycle_stage")


def stream(leads, count, seed=3):
    rng = random.Random(seed)
    now = timezone.now()
    items = []
    for i in range(count):
        lead = rng.choice(leads)
        item = {"type": rng.choice(TYPES), "idempotency_key": f"k{i}",
                "occurred_at": (now - timedelta(minutes=rng.randint(0, 60 * 24 * 40))).isoformat(),
                "properties": {"url": f"/p/{rng.randint(1, 2)}"}}
        item.update({"email": lead.email} if i % 5 == 0 else {"lead": lead.pk})
        items.append(item)
    return items


def state():
    return {lead["email"]: lead for lead in Lead.objects.order_by("email").values("email", *SCORE_COLUMNS)}


def make_leads():
    account = factories.AccountFactory(employees=200)
    return [factories.LeadFactory(title=title, account=account, email=f"p{i}@co.com")
            for i, title in enumerate(["VP Sales", "Engineer", "Director IT", "CEO"])]


def test_bulk_gives_the_same_scores_as_one_event_at_a_time():
    active_model()
    leads = make_leads()
    items = stream(leads, 60)
    for item in items:
        event_ingest(item=item)
    one_by_one = state()
    singles = (ScoreChange.objects.count(), EngagementEvent.objects.count())

    # Same leads, fresh: the whole stream in two bulk requests.
    EngagementEvent.objects.all().delete()
    ScoreChange.objects.all().delete()
    Lead.objects.update(fit_score=0, engagement_score=0, score=0, score_breakdown=[], opted_out=False,
                        last_engaged_at=None, mql_criteria_met=False, suppression_reason="")
    assert events_ingest_bulk(items=items[:30])["stored"] == 30
    assert events_ingest_bulk(items=items[30:])["stored"] == 30
    bulk = state()
    # Event ids differ between the two runs: compare breakdowns without them.
    for lead in [*one_by_one.values(), *bulk.values()]:
        for entry in lead["score_breakdown"]:
            entry["events"] = len(entry["events"])
    assert bulk == one_by_one
    assert EngagementEvent.objects.count() == singles[1]
    assert 0 < ScoreChange.objects.count() <= singles[0]


def test_bulk_runs_a_fixed_number_of_queries_whatever_the_batch_and_history():
    active_model()
    counts = []
    for size in (3, 40):
        leads = [factories.LeadFactory(title="Engineer") for _ in range(size)]
        items = [{"lead": lead.pk, "type": "blog_visit", "occurred_at": timezone.now().isoformat(),
                  "idempotency_key": f"{size}-{i}-{lead.pk}"} for i in range(3) for lead in leads]
        with CaptureQueriesContext(connection) as queries:
            assert events_ingest_bulk(items=items)["stored"] == 3 * size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    # savepoint pair, keys, leads (+ accounts, deal flags; locked), INSERT, models, events, UPDATE, history
    # INSERT ... SELECT, ScoreChange INSERT, account scores upsert
    assert counts[0] == 11


def test_bulk_writes_history_rows_and_score_changes_set_based():
    active_model()
    lead = factories.LeadFactory(title="VP Sales")
    before = lead.history.count()
    items = [{"lead": lead.pk, "type": "pricing_page_view", "occurred_at": timezone.now().isoformat(),
              "idempotency_key": "p1"},
             {"lead": lead.pk, "type": "unsubscribe", "occurred_at": timezone.now().isoformat(),
              "idempotency_key": "u1"}]
    events_ingest_bulk(items=items)
    lead.refresh_from_db()
    assert (lead.fit_score, lead.engagement_score, lead.opted_out, lead.suppression_reason) == (
        30, -5, True, "opted_out")
    latest = lead.history.order_by("-history_id").first()
    assert lead.history.count() == before + 1
    assert (latest.score, latest.opted_out, latest.history_type, latest.history_change_reason) == (
        25, True, "~", "rescored (event)")
    change = ScoreChange.objects.get(lead=lead)
    assert (change.old_score, change.new_score, change.trigger) == (0, 25, "event")
    assert change.event.idempotency_key in {"p1", "u1"}


def test_bulk_cooldown_groups_by_url_and_ignores_a_url_that_is_not_a_string():
    active_model(rules=[{"kind": "engagement", "event": "blog_visit", "points": 1}], min_fit=0)
    lead = factories.LeadFactory()
    now = timezone.now()
    items = [{"lead": lead.pk, "type": "blog_visit", "idempotency_key": f"b{i}", "properties": props,
              "occurred_at": (now - timedelta(minutes=i)).isoformat()}
             for i, props in enumerate([{"url": "/a"}, {"url": "/a"}, {"url": "/b"}, {"url": 5}, {}])]
    events_ingest_bulk(items=items)
    lead.refresh_from_db()
    # /a once (cooldown), /b once, and the url-less group (5 is not a string) once.
    assert lead.engagement_score == 3


def test_bulk_buying_committee_alert_once_in_one_task(django_capture_on_commit_callbacks):
    active_model()
    account = factories.AccountFactory(owner=factories.UserFactory())
    leads = [factories.LeadFactory(title="VP Sales", account=account) for _ in range(4)]
    items = [{"lead": lead.pk, "type": "pricing_page_view", "occurred_at": timezone.now().isoformat(),
              "idempotency_key": f"k{lead.pk}"} for lead in leads]
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest_bulk(items=items)
        events_ingest_bulk(items=[{**item, "idempotency_key": "again-" + item["idempotency_key"]}
                                  for item in items])
    score = AccountScore.objects.get(account=account)
    assert (score.engagement_score, score.engaged_contacts) == (60, 4)
    alerts = Notification.objects.filter(event="account.buying_committee")
    assert alerts.count() == 1 and alerts.get().payload["engaged_contacts"] == 4


def test_bulk_key_stored_concurrently_counts_as_duplicate(monkeypatch):
    """A key stored between the check and the insert: ON CONFLICT DO NOTHING, a duplicate, nothing rescored."""
    active_model()
    lead = factories.LeadFactory(title="VP Sales")
    other = factories.LeadFactory()
    from revops.flows import events as flow

    real = flow.events_insert

    def racing(rows, *, now):
        EngagementEvent.objects.create(lead=other, type="blog_visit", occurred_at=now, idempotency_key="race")
        return real(rows, now=now)

    monkeypatch.setattr(flow, "events_insert", racing)
    result = events_ingest_bulk(items=[{"lead": lead.pk, "type": "demo_request", "idempotency_key": "race",
                                        "occurred_at": timezone.now().isoformat()}])
    assert (result["stored"], result["duplicates"]) == (0, 1)
    lead.refresh_from_db()
    assert (lead.score, lead.lifecycle_stage) == (0, "lead")
