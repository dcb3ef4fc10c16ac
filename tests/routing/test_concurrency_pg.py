"""PostgreSQL only: many processes qualifying leads at once get exactly-once, fair routing."""

import collections
import datetime as dt

import pytest
from django.db import connection, transaction
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from leads.models import Lead
from leads.services import lead_transition
from pipeline.models import Task
from revops.flows.handoff import lead_handoff
from revops.models import Notification
from routing.models import Assignment, LeadSla, SlaStep
from routing.services import sla_sweep_batch
from tests import factories
from tests.concurrency import run_threads
from tests.routing import factories as rf

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    # serialized_rollback: the flush between transactional tests would drop the default routing / SLA rows.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
AT = dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC)
WORKERS, LEADS, REPS = 8, 400, 7


def test_400_leads_qualified_by_8_workers_at_once():
    team = rf.team()
    reps = [rf.rep(team=team) for _ in range(REPS)]
    leads = [factories.LeadFactory(mql_criteria_met=True) for _ in range(LEADS)]
    ids = [lead.pk for lead in leads]

    def worker(i):
        # Each lead is attempted by two workers: the loser must change nothing.
        mine = ids[i::WORKERS] + ids[(i + 1) % WORKERS::WORKERS]
        for lead_id in mine:
            with transaction.atomic():
                lead = Lead.objects.select_for_update().get(pk=lead_id)
                try:
                    lead_transition(lead=lead, transition="qualify_marketing", at=AT, reason="test")
                except (TransitionNotAllowed, ConcurrentTransition):
                    pass  # already MQL: a retried handoff must be a no-op
                lead_handoff(lead=lead, at=AT, trigger="demo_request")

    assert run_threads(worker, WORKERS) == []

    current = Assignment.objects.filter(is_current=True)
    assert current.count() == LEADS == Assignment.objects.count()
    assert Task.objects.filter(kind="first_contact").count() == LEADS
    assert LeadSla.objects.count() == LEADS
    assert Lead.objects.filter(owner__isnull=True).count() == 0
    counts = collections.Counter(current.values_list("rep_id", flat=True))
    assert set(counts) == {r.pk for r in reps}
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    per_lead = collections.Counter(Notification.objects.filter(event="lead.assigned", channel="webhook")
                                   .values_list("payload__lead", flat=True))
    assert len(per_lead) == LEADS and set(per_lead.values()) == {1}
    assert Notification.objects.filter(event="lead.assigned", channel="email").count() == LEADS


def test_two_sweepers_at_the_same_time_fire_each_step_once():
    rf.rep(team=rf.team())
    for _ in range(60):
        rf.handed_off(at=AT, trigger="demo_request")
    now = AT + dt.timedelta(minutes=5)
    assert SlaStep.objects.filter(status="pending", due_at__lte=now).count() == 60, list(
        SlaStep.objects.values_list("due_at", "status", "action")[:3])
    results = []

    def sweeper(i):
        while True:
            result = sla_sweep_batch(now=now, batch_size=7)
            results.append(result.fired)
            if not result.claimed:
                break

    assert run_threads(sweeper, 2) == []
    assert sum(results) == 60
    assert SlaStep.objects.filter(action="remind_owner", status="fired").count() == 60
    assert Notification.objects.filter(event="sla.escalated", channel="webhook").count() == 60
