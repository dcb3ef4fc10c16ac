"""The whole lifecycle transition table: allowed moves write history with actor and reason,
forbidden ones raise and change nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from leads.models import Lead, ReasonCode
from leads.services import lead_transition
from tests import factories

pytestmark = pytest.mark.django_db

S = Lead.Stage
ALLOWED = {
    "identify": {S.SUBSCRIBER: S.LEAD},
    "qualify_marketing": {S.LEAD: S.MQL, S.RECYCLED: S.MQL},
    "accept": {S.MQL: S.SQL},
    "reject": {S.MQL: S.RECYCLED, S.SQL: S.RECYCLED},
    "convert": {S.SQL: S.OPPORTUNITY},
    "win": {S.OPPORTUNITY: S.CUSTOMER},
    "lose": {S.OPPORTUNITY: S.RECYCLED},
    "advocate": {S.CUSTOMER: S.EVANGELIST},
    "archive": {s: S.ARCHIVED for s in (S.SUBSCRIBER, S.LEAD, S.MQL, S.SQL, S.OPPORTUNITY, S.RECYCLED)},
}


def kwargs_for(name):
    if name == "reject":
        return {"reason_code": ReasonCode.objects.get(code="ENG-01")}
    return {
        "accept": {"budget": True, "authority": True, "need": False, "timeline": False},
        "win": {"deal_stage": "closed_won"},
        "lose": {"loss_reason": "price"},
        "advocate": {"nps": 10},
        "archive": {"cause": "no longer relevant"},
    }.get(name, {})


def ready_lead(stage):
    """A lead in ``stage`` that satisfies every guard, so only the source stage decides."""
    actor = factories.UserFactory()
    return factories.LeadFactory(lifecycle_stage=stage, owner=actor, mql_criteria_met=True), actor


CASES = [(name, stage) for name in ALLOWED for stage in S.values]


@pytest.mark.parametrize("name, stage", CASES)
def test_transition_table(name, stage):
    lead, actor = ready_lead(stage)
    before = lead.history.count()
    if stage in ALLOWED[name]:
        lead_transition(lead=lead, transition=name, actor=actor, reason=f"test {name}", **kwargs_for(name))
        lead.refresh_from_db()
        assert lead.lifecycle_stage == ALLOWED[name][stage]
        last = lead.history.latest()
        assert lead.history.count() == before + 1
        assert (last.history_user, last.history_change_reason, last.lifecycle_stage) == (
            actor, f"test {name}", ALLOWED[name][stage])
    else:
        with pytest.raises(TransitionNotAllowed):
            lead_transition(lead=lead, transition=name, actor=actor, reason="nope", **kwargs_for(name))
        lead.refresh_from_db()
        assert lead.lifecycle_stage == stage
        assert lead.history.count() == before


def test_reject_with_archive_code_archives():
    lead, actor = ready_lead(S.MQL)
    lead_transition(lead=lead, transition="reject", actor=actor, reason_code=ReasonCode.objects.get(code="FIT-02"))
    assert Lead.objects.get(pk=lead.pk).lifecycle_stage == S.ARCHIVED


@pytest.mark.parametrize("name, stage, change, kwargs, error", [
    ("identify", S.SUBSCRIBER, {"account": None}, {}, TransitionNotAllowed),
    ("identify", S.SUBSCRIBER, {"first_name": "", "last_name": ""}, {}, TransitionNotAllowed),
    ("qualify_marketing", S.LEAD, {"mql_criteria_met": False}, {}, TransitionNotAllowed),
    ("qualify_marketing", S.LEAD, {"suppression_reason": "do_not_contact"}, {}, TransitionNotAllowed),
    ("accept", S.MQL, {"owner": None}, kwargs_for("accept"), TransitionNotAllowed),
    ("accept", S.MQL, {}, {"budget": True, "authority": False, "need": False, "timeline": False}, ValidationError),
    ("reject", S.MQL, {}, {"reason_code": None}, ValidationError),
    ("win", S.OPPORTUNITY, {}, {"deal_stage": "negotiation"}, ValidationError),
    ("lose", S.OPPORTUNITY, {}, {"loss_reason": ""}, ValidationError),
    ("advocate", S.CUSTOMER, {}, {"nps": 8}, ValidationError),
    ("archive", S.LEAD, {}, {"cause": ""}, ValidationError),
])
def test_guards_and_required_fields_refuse_and_write_nothing(name, stage, change, kwargs, error):
    lead, actor = ready_lead(stage)
    Lead.objects.filter(pk=lead.pk).update(**change)
    lead = Lead.objects.get(pk=lead.pk)
    before = lead.history.count()
    with pytest.raises(error):
        lead_transition(lead=lead, transition=name, actor=actor, **kwargs)
    lead.refresh_from_db()
    assert lead.lifecycle_stage == stage
    assert lead.history.count() == before


def test_qualify_from_recycled_flags_recycled_mql():
    lead, actor = ready_lead(S.RECYCLED)
    at = timezone.now()
    lead_transition(lead=lead, transition="qualify_marketing", actor=actor, at=at)
    lead.refresh_from_db()
    assert (lead.lifecycle_stage, lead.is_recycled, lead.mql_at) == (S.MQL, True, at)


def test_stage_field_is_protected():
    lead, _ = ready_lead(S.LEAD)
    with pytest.raises(AttributeError):
        lead.lifecycle_stage = S.CUSTOMER


def test_concurrent_transition_is_detected_and_writes_nothing():
    lead, actor = ready_lead(S.MQL)
    first = Lead.objects.get(pk=lead.pk)
    second = Lead.objects.get(pk=lead.pk)
    lead_transition(lead=first, transition="accept", actor=actor, **kwargs_for("accept"))
    with pytest.raises(ConcurrentTransition):
        lead_transition(lead=second, transition="reject", actor=actor, **kwargs_for("reject"))
    lead.refresh_from_db()
    assert lead.lifecycle_stage == S.SQL
    assert lead.reason_code is None
