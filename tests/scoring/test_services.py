"""Scoring services and the event flow: versions, activation, rescoring, MQL, suppression, accounts."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import EngagementEvent, Lead
from pipeline.models import Deal
from revops.flows import scoring as scoring_flow
from revops.flows.events import event_ingest
from revops.models import Notification
from scoring import services
from scoring.models import AccountScore, RescoreJob, ScoreChange, ScoringModel
from tests import factories
from tests.scoring.factories import active_model, model_data

pytestmark = pytest.mark.django_db


def vp_lead(**kw):
    kw.setdefault("title", "VP Sales")
    return factories.LeadFactory(**kw)


def send(lead, event_type, key, when=None, **props):
    when = when or timezone.now()
    return event_ingest(item={"lead": lead.pk, "type": event_type, "occurred_at": when.isoformat(),
                              "idempotency_key": key, "properties": props})


def test_presets_exist_after_migrate_and_are_valid():
    active = {m.segment: m for m in ScoringModel.objects.active()}
    assert set(active) >= {"default", "plg", "enterprise", "mid_market"}
    assert (active["plg"].name, active["plg"].mql_threshold) == ("PLG SaaS", 60)
    assert (active["enterprise"].name, active["enterprise"].mql_threshold) == ("Enterprise Sales-Led", 75)
    assert (active["mid_market"].name, active["mid_market"].mql_threshold) == ("Mid-Market Hybrid", 65)
    default = active["default"]
    assert (default.mql_threshold, default.min_fit, default.min_engagement) == (60, 20, 20)
    assert default.fast_track_events == ["demo_request", "contact_sales"]
    assert "gmail.com" in default.personal_domains
    for model in active.values():
        model.full_clean()


def test_create_is_a_draft_and_the_same_name_gets_the_next_version():
    first = services.scoring_model_create(**model_data(name="Growth"))
    second = services.scoring_model_create(**model_data(name="Growth"))
    assert (first.version, second.version, second.status) == (1, 2, "draft")


@pytest.mark.parametrize("rules, message", [
    ([{"kind": "fit", "field": "company.size", "op": "eq", "value": 1, "points": 5}], "field must be"),
    ([{"kind": "fit", "field": "title", "op": "like", "value": "x", "points": 5}], "op must be"),
    ([{"kind": "engagement", "event": "telepathy", "points": 5}], "unknown event type"),
    ([{"kind": "bonus", "event": "demo_request", "points": 5}], "kind must be"),
    ([{"kind": "negative", "event": "unsubscribe", "points": 20}], "points < 0"),
    ([{"kind": "engagement", "event": "email_click", "points": 5, "window_days": 3}], "needs min_count"),
    ([{"kind": "engagement", "event": "email_click", "points": 5, "decay_points": 3}], "go together"),
    ([{"kind": "fit", "field": "company.employees", "op": "between", "value": [9, 1], "points": 5}], "low <="),
    ([{"kind": "fit", "field": "title", "op": "eq", "value": "x", "points": 1.5}], "integer"),
    ("not a list", "list"),
])
def test_rules_are_validated_strictly(rules, message):
    with pytest.raises(ValidationError) as err:
        services.scoring_model_create(**model_data(rules=rules))
    assert message in str(err.value.message_dict["rules"])


def test_activation_retires_the_previous_model_and_rescores_the_segment():
    lead = vp_lead()
    before = ScoringModel.objects.get(segment="default", status="active")
    model = services.scoring_model_create(**model_data())
    model, job = scoring_flow.scoring_model_activate(model=model, note="Q3 recalibration")
    before.refresh_from_db()
    assert (before.status, model.status, model.approval_note) == ("retired", "active", "Q3 recalibration")
    assert (job.status, job.total, job.processed) == ("done", Lead.objects.count(), Lead.objects.count())
    lead.refresh_from_db()
    assert (lead.fit_score, lead.score, lead.scoring_model_version) == (30, 30, "Test model v1")
    change = ScoreChange.objects.get(lead=lead)
    assert (change.trigger, change.old_score, change.new_score, change.scoring_model_id) == (
        "activation", 0, 30, model.pk)


def test_one_active_model_per_segment_is_a_database_constraint():
    model = services.scoring_model_create(**model_data())
    with pytest.raises(IntegrityError), transaction.atomic():
        ScoringModel.objects.filter(pk=model.pk).update(status="active")


def test_editing_an_active_model_makes_a_new_draft_version():
    model = active_model()
    edited = services.scoring_model_update(model=model, mql_threshold=70)
    model.refresh_from_db()
    assert (model.status, model.mql_threshold) == ("active", 60)
    assert (edited.status, edited.version, edited.mql_threshold) == ("draft", 2, 70)


def test_large_segment_rescoring_runs_as_a_background_job(django_capture_on_commit_callbacks):
    for _ in range(3):
        vp_lead()
    model = services.scoring_model_create(**model_data())
    with django_capture_on_commit_callbacks(execute=True):
        model, job = scoring_flow.scoring_model_activate(model=model, inline_limit=1)
    assert job.status == "queued"  # returned before the job ran: the model is active already
    job.refresh_from_db()
    assert (job.status, job.processed, job.total) == ("done", 3, 3)
    assert set(Lead.objects.values_list("score", flat=True)) == {30}


def test_segment_without_its_own_model_uses_default_and_moves_when_one_is_activated():
    active_model()
    lead = vp_lead(segment="smb")
    services.lead_rescore(lead=lead)
    assert lead.scoring_model_version == "Test model v1"
    active_model(name="SMB", segment="smb", rules=[
        {"kind": "fit", "field": "title_level", "op": "eq", "value": "vp", "points": 5}])
    lead.refresh_from_db()
    assert (lead.score, lead.scoring_model_version) == (5, "SMB v1")


def test_event_rescores_stores_breakdown_and_history_then_qualifies_and_hands_off(handoff_calls):
    active_model()
    lead = vp_lead()
    reply, created = send(lead, "demo_request", "k1")
    assert created and reply["lifecycle_stage"] == "mql"
    assert (reply["fit_score"], reply["engagement_score"], reply["score"]) == (30, 30, 60)
    lead.refresh_from_db()
    assert sum(b["points"] for b in lead.score_breakdown) == lead.score == 60
    event = EngagementEvent.objects.get(idempotency_key="k1")
    assert [b["events"] for b in lead.score_breakdown if b["kind"] == "engagement"] == [[event.pk]]
    change = ScoreChange.objects.get(lead=lead, trigger="event")
    assert (change.old_score, change.new_score, change.event_id) == (0, 60, event.pk)
    assert handoff_calls == [{"lead": lead.pk, "at": handoff_calls[0]["at"], "trigger": "demo_request"}]


def test_rescoring_twice_changes_nothing():
    active_model()
    lead = vp_lead()
    send(lead, "pricing_page_view", "k1")
    lead.refresh_from_db()
    history = lead.history.count()
    changes = ScoreChange.objects.count()
    at = timezone.now()
    services.lead_rescore(lead=lead, at=at)
    services.lead_rescore(lead=lead, at=at)
    assert (lead.history.count(), ScoreChange.objects.count()) == (history, changes)


def test_fast_track_needs_min_fit():
    active_model()
    lead = vp_lead(title="Engineer")  # fit 15 < 20
    reply, _ = send(lead, "contact_sales", "k1")
    assert reply["lifecycle_stage"] == "lead"


def test_fast_track_inside_the_cooldown_still_qualifies(handoff_calls):
    active_model(fast_track_events=["demo_request"], rules=[
        {"kind": "fit", "field": "title_level", "op": "eq", "value": "vp", "points": 20},
        {"kind": "engagement", "event": "demo_request", "points": 5}])
    lead = vp_lead(lifecycle_stage=Lead.Stage.SUBSCRIBER)
    now = timezone.now()
    send(lead, "demo_request", "k1", when=now - timedelta(minutes=10))  # a subscriber cannot be MQL yet
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage="lead")
    reply, _ = send(lead, "demo_request", "k2", when=now)  # within the 30-minute cooldown
    assert (reply["engagement_score"], reply["lifecycle_stage"]) == (5, "mql")


def test_recycled_lead_qualifies_again_and_earlier_events_stop_counting():
    active_model()
    lead = vp_lead(lifecycle_stage=Lead.Stage.RECYCLED)
    now = timezone.now()
    EngagementEvent.objects.create(lead=lead, type="demo_request", occurred_at=now - timedelta(days=3),
                                   idempotency_key="old")
    Lead.objects.filter(pk=lead.pk).update(engagement_reset_at=now - timedelta(days=1))
    lead.refresh_from_db()
    reply, _ = send(lead, "pricing_page_view", "k1")
    assert (reply["engagement_score"], reply["lifecycle_stage"]) == (15, "recycled")
    reply, _ = send(lead, "demo_request", "k2")
    assert (reply["engagement_score"], reply["lifecycle_stage"]) == (45, "mql")
    assert Lead.objects.get(pk=lead.pk).is_recycled


@pytest.mark.parametrize("setup, reason", [
    (lambda lead: Lead.objects.filter(pk=lead.pk).update(do_not_contact=True), "do_not_contact"),
    (lambda lead: Lead.objects.filter(pk=lead.pk).update(opted_out=True), "opted_out"),
    (lambda lead: Lead.objects.filter(pk=lead.pk).update(hard_bounced=True), "hard_bounce"),
    (lambda lead: Lead.objects.filter(pk=lead.pk).update(spam_complaint=True), "spam_complaint"),
    (lambda lead: Lead.objects.filter(pk=lead.pk).update(email="ann@rival.com"), "competitor"),
    (lambda lead: Lead.objects.filter(pk=lead.pk).update(email="ann@ourco.com"), "internal"),
    (lambda lead: Deal.objects.create(name="d", lead=lead, account=lead.account), "active_deal"),
    (lambda lead: Deal.objects.create(name="won", account=lead.account, stage="closed_won"), "customer"),
])
def test_each_suppression_reason_blocks_the_mql_and_is_recorded(setup, reason, handoff_calls):
    active_model(competitor_domains=["rival.com"], internal_domains=["ourco.com"])
    lead = vp_lead()
    setup(lead)
    lead.refresh_from_db()
    reply, _ = send(lead, "demo_request", "k1")
    assert reply["lifecycle_stage"] == "lead"
    lead.refresh_from_db()
    assert (lead.suppression_reason, lead.mql_criteria_met) == (reason, True)
    assert handoff_calls == []


@pytest.mark.parametrize("event_type, flag", [
    ("unsubscribe", "opted_out"), ("hard_bounce", "hard_bounced"), ("spam_complaint", "spam_complaint")])
def test_negative_events_set_the_lead_flags(event_type, flag):
    active_model()
    lead = vp_lead()
    send(lead, event_type, "k1")
    lead.refresh_from_db()
    assert getattr(lead, flag) is True and lead.suppression_reason


@pytest.mark.parametrize("stage", ["sql", "opportunity", "customer", "evangelist", "archived"])
def test_automation_never_moves_leads_it_does_not_own(stage, handoff_calls):
    active_model()
    lead = vp_lead(lifecycle_stage=stage)
    reply, _ = send(lead, "demo_request", "k1")
    assert reply["lifecycle_stage"] == stage and handoff_calls == []


def test_account_score_and_buying_committee_alert_once(django_capture_on_commit_callbacks):
    active_model()
    account = factories.AccountFactory(owner=factories.UserFactory())
    leads = [vp_lead(account=account) for _ in range(4)]
    with django_capture_on_commit_callbacks(execute=True):
        for index, lead in enumerate(leads):
            send(lead, "pricing_page_view", f"k{index}")
    score = AccountScore.objects.get(account=account)
    assert (score.engagement_score, score.engaged_contacts) == (60, 4)
    assert score.committee_alerted_at is not None
    alerts = Notification.objects.filter(event="account.buying_committee")
    assert alerts.count() == 1
    assert alerts.get().payload["owner"] == account.owner_id
    assert alerts.get().payload["engaged_contacts"] == 3


def test_daily_decay_rescoring_lowers_scores_but_never_demotes_an_mql():
    from revops.jobs import rescore_decayed_leads

    active_model()
    lead = vp_lead()
    send(lead, "pricing_page_view", "p1", when=timezone.now() - timedelta(days=8))
    mql = vp_lead(lifecycle_stage=Lead.Stage.MQL)
    send(mql, "pricing_page_view", "p2", when=timezone.now() - timedelta(days=8))
    Lead.objects.filter(pk__in=[lead.pk, mql.pk]).update(engagement_score=15, score=45)
    assert rescore_decayed_leads() == 2
    lead.refresh_from_db()
    mql.refresh_from_db()
    assert (lead.engagement_score, mql.engagement_score, mql.lifecycle_stage) == (10, 10, "mql")
    assert RescoreJob.objects.filter(trigger="decay", status="done").exists()
    assert ScoreChange.objects.filter(lead=lead, trigger="decay", old_score=45, new_score=40).exists()
