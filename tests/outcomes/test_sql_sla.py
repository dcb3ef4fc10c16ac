"""Accept -> SDR to AE handoff and the SQL-to-Opportunity SLA of seed 001, with a controlled clock.

Discovery call within 3 business days of the SQL (alert to the AE's manager), opportunity within
5 (manager alert + pipeline-review flag), in business time of the owner's (the AE's) team calendar,
on the same escalation engine and sweeper as the MQL SLA: each step fires once.
"""

import datetime as dt
from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from leads.models import Lead
from pipeline.models import Task
from revops.flows import qualification
from revops.models import Notification
from routing.models import Assignment, LeadSla, Rep, SlaPolicy, SlaStep
from routing.services import activity_log, lead_handoff, lead_sql_handoff, sla_sweep, sla_sweep_batch
from tests.concurrency import run_threads
from tests.conftest import as_user
from tests.routing import factories as rf

pytestmark = pytest.mark.django_db
UTC = dt.UTC
MQL_AT = dt.datetime(2025, 6, 17, 13, 0, tzinfo=UTC)  # Tuesday
ACCEPT = dt.datetime(2025, 6, 17, 14, 0, tzinfo=UTC)  # 10:00 EDT in the AE team's New York calendar
# 3 business days of the AE team (09-17 New York, US holidays): Tue 7 h + Wed 8 h + (Thu 19 June is
# Juneteenth) + Fri 8 h = 23 h, the last hour on Monday -> Mon 23 June 10:00 EDT.
DISCOVERY_DUE = dt.datetime(2025, 6, 23, 14, 0, tzinfo=UTC)
# 5 business days: ... + Mon 8 h + Tue 8 h = 39 h, the last hour on Wednesday -> Wed 25 June 10:00 EDT.
OPPORTUNITY_DUE = dt.datetime(2025, 6, 25, 14, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def world():
    sdr_team = rf.team(name="SDR team")
    sdr = rf.rep(team=sdr_team, role=Rep.Role.SDR)
    lead, mql_assignment = rf.handed_off(at=MQL_AT, source="webinar")  # the SDR is the only rep yet: it gets the MQL
    assert lead.owner_id == sdr.pk
    ae_team = rf.team(name="AE team", timezone="America/New_York", holiday_country="US")
    manager = rf.rep(team=ae_team, role=Rep.Role.MANAGER)
    ae = rf.rep(team=ae_team, role=Rep.Role.AE, manager=manager)
    # An idle SDR in the AE team: round-robin would prefer it if the handoff did not exclude SDRs.
    idle_sdr = rf.rep(team=ae_team, role=Rep.Role.SDR)
    return {"lead": lead, "sdr": sdr, "ae": ae, "manager": manager, "idle_sdr": idle_sdr,
            "mql_assignment": mql_assignment}


def accept(lead, user, at=ACCEPT):
    return qualification.lead_accept(lead=lead, actor=user, budget=True, authority=False, need=True,
                                     timeline=False, at=at)


def sql_clock(lead):
    return LeadSla.objects.get(lead=lead, phase="sql", is_current=True)


def test_defaults_include_the_sql_policy_after_migrate():
    policy = SlaPolicy.objects.get(name="SQL-to-Opportunity (seed 001)")
    assert (policy.phase, policy.active) == ("sql", True)
    assert policy.steps == [{"after_business_days": 3, "action": "discovery_overdue"},
                            {"after_business_days": 5, "action": "opportunity_overdue"}]


def test_sdr_accept_hands_the_lead_to_an_ae_once(world, django_capture_on_commit_callbacks):
    lead, sdr, ae = world["lead"], world["sdr"], world["ae"]
    with django_capture_on_commit_callbacks(execute=True):
        accept(lead, sdr.user)
    lead.refresh_from_db()
    assert (lead.lifecycle_stage, lead.sql_at, lead.owner_id) == ("sql", ACCEPT, ae.pk)
    handoff = Assignment.objects.get(lead=lead, is_current=True)
    assert handoff.pk != world["mql_assignment"].pk
    assert (handoff.rep_id, handoff.team_id, handoff.rule, handoff.trigger, handoff.note, handoff.mql_at) == (
        ae.pk, ae.team_id, "Round-robin", "sdr_handoff", f"SDR handoff from {sdr}", MQL_AT)
    assert handoff.reason.startswith(f"SDR handoff from {sdr}; ")
    assert handoff.policy == "SQL-to-Opportunity (seed 001)"
    assert Assignment.objects.filter(lead=lead).count() == 2
    # The AE is told, once (deduped notification rows).
    email = Notification.objects.get(event="lead.assigned", channel="email", recipient=ae.user.email)
    assert email.dedupe_key == f"lead.assigned:{handoff.pk}:email"
    assert "SDR handoff from" in email.payload["body"]
    assert Notification.objects.filter(dedupe_key=f"lead.assigned:{handoff.pk}:webhook").count() == 1
    # The SQL clock runs on the AE team's calendar, its tasks are the AE's.
    sla = sql_clock(lead)
    assert (sla.owner_id, sla.team_id, sla.started_at, sla.discovery_due, sla.opportunity_due,
            sla.first_contact_due, sla.assignment_id) == (
        ae.pk, ae.team_id, ACCEPT, DISCOVERY_DUE, OPPORTUNITY_DUE, DISCOVERY_DUE, handoff.pk)
    assert list(SlaStep.objects.filter(sla=sla).order_by("index").values_list(
        "action", "stops_on", "due_at", "breach", "status")) == [
        ("discovery_overdue", "discovery_call", DISCOVERY_DUE, True, "pending"),
        ("opportunity_overdue", "opportunity", OPPORTUNITY_DUE, True, "pending"),
    ]
    tasks = {t.kind: t for t in Task.objects.filter(lead=lead)}
    assert (tasks["discovery_call"].owner_id, tasks["discovery_call"].due_at) == (ae.pk, DISCOVERY_DUE)
    assert (tasks["create_opportunity"].owner_id, tasks["create_opportunity"].due_at) == (ae.pk, OPPORTUNITY_DUE)
    assert tasks["first_contact"].completed_at == ACCEPT  # the SDR's task closed when the lead left MQL
    # A retried handoff of the same SQL changes nothing; the constraint refuses a second SDR handoff.
    with django_capture_on_commit_callbacks(execute=True):
        again = lead_sql_handoff(lead=lead, at=ACCEPT + MINUTE)
    assert again.pk == sla.pk
    assert Assignment.objects.filter(lead=lead).count() == 2 and Task.objects.filter(lead=lead).count() == 3
    assert Notification.objects.filter(event="lead.assigned", recipient=ae.user.email).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(lead=lead, rep=ae, rule="x", trigger="sdr_handoff", mql_at=MQL_AT,
                                  is_current=False)


def test_the_tree_decides_the_ae_role_and_never_picks_an_sdr(world):
    lead, sdr = world["lead"], world["sdr"]
    enterprise_ae = rf.rep(team=world["ae"].team, role=Rep.Role.ENTERPRISE_AE)
    account = lead.account
    account.employees = 5000
    account.owner = sdr.user  # a named account owned by an SDR: not an AE role, the step is skipped
    account.save()
    accept(lead, sdr.user)
    lead.refresh_from_db()
    handoff = Assignment.objects.get(lead=lead, is_current=True)
    assert lead.owner_id == enterprise_ae.pk
    assert (handoff.rep_id, handoff.rule) == (enterprise_ae.pk, "Large ACV -> enterprise team")
    named = handoff.skipped[0]
    assert named["rule"] == "Named / target account owner"
    assert f"rep {sdr.pk} has role sdr, not one of ae, enterprise_ae, plg_specialist" in named["why"]


def test_no_ae_available_leaves_the_sql_in_the_team_queue(world):
    Rep.objects.filter(role__in=[Rep.Role.AE, Rep.Role.ENTERPRISE_AE, Rep.Role.PLG_SPECIALIST]).update(on_pto=True)
    lead = world["lead"]
    accept(lead, world["sdr"].user)
    lead.refresh_from_db()
    handoff = Assignment.objects.get(lead=lead, is_current=True)
    assert lead.owner_id is None and handoff.rep_id is None and handoff.rule == "Fallback team queue"
    assert handoff.note == f"SDR handoff from {world['sdr']}: no AE available, team queue"
    assert world["idle_sdr"].pk not in Assignment.objects.values_list("rep_id", flat=True)


def test_an_ae_owner_keeps_the_lead_and_the_clock_runs_on_its_calendar(world):
    ae = world["ae"]
    lead = rf.mql_lead(at=MQL_AT, owner=ae.user)
    accept(lead, ae.user)
    lead.refresh_from_db()
    assert lead.owner_id == ae.pk
    assert not Assignment.objects.filter(lead=lead, trigger="sdr_handoff").exists()
    sla = sql_clock(lead)
    assert (sla.discovery_due, sla.opportunity_due, sla.owner_id) == (DISCOVERY_DUE, OPPORTUNITY_DUE, ae.pk)


def test_accept_through_the_api_hands_off(world):
    lead, sdr, ae = world["lead"], world["sdr"], world["ae"]
    response = as_user(sdr.user).post(f"/api/v1/leads/{lead.pk}/accept/", {"budget": True, "need": True},
                                      format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["lifecycle_stage"], response.json()["owner"]) == ("sql", ae.pk)


def test_sql_steps_fire_at_their_business_moments_once(world, django_capture_on_commit_callbacks):
    lead, manager = world["lead"], world["manager"]
    accept(lead, world["sdr"].user)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_sweep(now=DISCOVERY_DUE - MINUTE).fired == 0  # the MQL steps were cancelled at accept
        assert sla_sweep(now=DISCOVERY_DUE).fired == 1
        assert sla_sweep(now=DISCOVERY_DUE).fired == 0  # a second sweeper at the same moment: nothing
        assert sla_sweep(now=OPPORTUNITY_DUE - MINUTE).fired == 0
        assert sla_sweep(now=OPPORTUNITY_DUE).fired == 1
        assert sla_sweep(now=OPPORTUNITY_DUE + dt.timedelta(days=30)).fired == 0
    sla = sql_clock(lead)
    fired = list(SlaStep.objects.filter(sla=sla, status="fired").order_by("index").values_list(
        "action", "fired_at", "to_id", "note"))
    assert fired == [
        ("discovery_overdue", DISCOVERY_DUE, manager.pk, ""),
        ("opportunity_overdue", OPPORTUNITY_DUE, manager.pk, "flagged for pipeline review"),
    ]
    assert (sla.breached_at, sla.pipeline_review_at) == (DISCOVERY_DUE, OPPORTUNITY_DUE)
    steps = {s.action: s for s in SlaStep.objects.filter(sla=sla)}
    for action in ("discovery_overdue", "opportunity_overdue"):
        alert = Notification.objects.get(dedupe_key=f"sla.step:{steps[action].pk}:email")
        assert (alert.channel, alert.event, alert.recipient) == ("email", "sla.escalated", manager.user.email)
    breaches = Notification.objects.filter(event="sla.breached").order_by("id")
    assert [n.dedupe_key for n in breaches] == [f"sla.breached:{sla.pk}:discovery_call",
                                                f"sla.breached:{sla.pk}:opportunity"]
    assert breaches[1].payload["pipeline_review"] is True
    # The MQL phase never fired anything after the accept.
    assert not SlaStep.objects.filter(lead=lead, sla__phase="mql", status="fired").exists()


def test_after_downtime_each_sql_chain_fires_its_step_once(world):
    accept(world["lead"], world["sdr"].user)
    result = sla_sweep(now=OPPORTUNITY_DUE + dt.timedelta(days=3))
    assert (result.fired, result.skipped) == (2, 0)
    assert sla_sweep(now=OPPORTUNITY_DUE + dt.timedelta(days=4)).fired == 0


def test_a_call_or_meeting_after_the_sql_stops_the_discovery_step(world):
    lead, ae = world["lead"], world["ae"]
    accept(lead, world["sdr"].user)
    activity_log(lead=lead, kind="call", occurred_at=ACCEPT - MINUTE)  # before the SQL: not discovery
    activity_log(lead=lead, kind="email", occurred_at=ACCEPT + MINUTE)  # an email is not a discovery call
    assert sql_clock(lead).discovery_at is None
    meeting_at = dt.datetime(2025, 6, 18, 15, 0, tzinfo=UTC)
    activity_log(lead=lead, kind="meeting", occurred_at=meeting_at, actor=ae.user)
    sla = sql_clock(lead)
    assert (sla.discovery_at, sla.first_contact_at) == (meeting_at, meeting_at)
    assert Task.objects.get(lead=lead, kind="discovery_call").completed_at == meeting_at
    assert Task.objects.get(lead=lead, kind="create_opportunity").completed_at is None
    assert SlaStep.objects.get(sla=sla, action="discovery_overdue").status == "cancelled"
    assert sla_sweep(now=DISCOVERY_DUE).fired == 0
    assert sla_sweep(now=OPPORTUNITY_DUE).fired == 1  # the opportunity step still runs
    assert sql_clock(lead).breached_at == OPPORTUNITY_DUE


def test_convert_stops_the_opportunity_step(world):
    lead, ae = world["lead"], world["ae"]
    accept(lead, world["sdr"].user)
    convert_at = dt.datetime(2025, 6, 20, 15, 0, tzinfo=UTC)
    lead, deal = qualification.lead_convert(lead=lead, actor=ae.user, amount=Decimal("12000"),
                                            close_date=date(2025, 9, 30), at=convert_at)
    assert (lead.lifecycle_stage, deal.owner_id) == ("opportunity", ae.pk)
    sla = sql_clock(lead)
    assert (sla.opportunity_at, sla.closed_at) == (convert_at, convert_at)
    statuses = dict(SlaStep.objects.filter(sla=sla).values_list("action", "status"))
    assert statuses == {"discovery_overdue": "cancelled", "opportunity_overdue": "cancelled"}
    assert set(Task.objects.filter(lead=lead, kind__in=["discovery_call", "create_opportunity"])
               .values_list("completed_at", flat=True)) == {convert_at}
    assert sla_sweep(now=OPPORTUNITY_DUE + dt.timedelta(days=1)).claimed == 0
    assert sql_clock(lead).pipeline_review_at is None


def test_reject_of_an_mql_cancels_its_steps_at_once_and_closes_the_task(world):
    lead = world["lead"]
    reject_at = MQL_AT + dt.timedelta(minutes=30)
    assert SlaStep.objects.filter(lead=lead, status="pending").count() == 2
    qualification.lead_reject_with_code(lead=lead, actor=world["sdr"].user, reason_code="ENG-01", at=reject_at)
    assert SlaStep.objects.filter(lead=lead, status="pending").count() == 0  # no sweep needed
    assert set(SlaStep.objects.filter(lead=lead).values_list("status", flat=True)) == {"cancelled"}
    assert Task.objects.get(lead=lead, kind="first_contact").completed_at == reject_at
    assert LeadSla.objects.get(lead=lead, phase="mql").closed_at == reject_at


def test_reject_of_an_sql_closes_the_sql_clock(world):
    lead = world["lead"]
    accept(lead, world["sdr"].user)
    reject_at = dt.datetime(2025, 6, 18, 15, 0, tzinfo=UTC)
    qualification.lead_reject_with_code(lead=lead, actor=world["ae"].user, reason_code="QUAL-01", at=reject_at)
    assert not SlaStep.objects.filter(lead=lead, status="pending").exists()
    assert list(Task.objects.filter(lead=lead, completed_at__isnull=True)) == []
    assert sql_clock(lead).closed_at == reject_at
    assert sla_sweep(now=OPPORTUNITY_DUE).claimed == 0


def test_recycled_re_mql_is_noted_and_closes_the_old_first_contact_task(world):
    lead, sdr = world["lead"], world["sdr"]
    old_task = Task.objects.get(lead=lead, kind="first_contact")
    Rep.objects.exclude(pk=sdr.pk).update(on_pto=True)  # keep the second routing on the SDR
    # Recycled outside the qualification flow (an import, say): the old clock's task is still open.
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage="recycled", mql_criteria_met=True)
    lead = Lead.objects.get(pk=lead.pk)
    again_at = dt.datetime(2025, 9, 1, 10, 0, tzinfo=UTC)
    lead.qualify_marketing(at=again_at)
    lead.save()
    assert lead.is_recycled
    assignment = lead_handoff(lead=lead, at=again_at)
    assert assignment.note == "recycled MQL" and assignment.reason.startswith("recycled MQL; ")
    old_task.refresh_from_db()
    assert old_task.completed_at == again_at
    open_tasks = Task.objects.filter(lead=lead, completed_at__isnull=True)
    assert [t.kind for t in open_tasks] == ["first_contact"] and open_tasks[0].pk != old_task.pk
    assert LeadSla.objects.filter(lead=lead, is_current=True).get().started_at == again_at


def test_sql_policy_validation():
    policy = SlaPolicy(name="bad", phase="sql", steps=[{"after_business_days": -1, "action": "discovery_overdue"}])
    with pytest.raises(Exception, match="after_business_days"):
        policy.clean()
    policy.steps = [{"after_minutes": 60, "action": "reassign"}]
    with pytest.raises(Exception, match="not an action of the sql phase"):
        policy.clean()
    policy.phase, policy.steps = "mql", [{"after_minutes": 60, "action": "opportunity_overdue"}]
    with pytest.raises(Exception, match="not an action of the mql phase"):
        policy.clean()
    policy.phase, policy.steps = "sql", [{"after_business_days": 2, "action": "alert_manager",
                                          "stops_on": "opportunity"}]
    policy.clean()


# ---------------------------------------------------------------- PostgreSQL: concurrency

PG_MQL_AT = dt.datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
PG_ACCEPT = dt.datetime(2025, 6, 2, 11, 0, tzinfo=UTC)
PG_DISCOVERY_DUE = dt.datetime(2025, 6, 5, 11, 0, tzinfo=UTC)  # 3 business days, UTC 09-17


def postgres_transactional(test):
    """Real concurrent transactions; serialized_rollback keeps the data-migration rows other tests need."""
    for mark in (pytest.mark.postgres,
                 pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
                 pytest.mark.django_db(transaction=True, serialized_rollback=True)):
        test = mark(test)
    return test


def _sdr_leads(n):
    sdr = rf.rep(team=rf.team(), role=Rep.Role.SDR)
    leads = [rf.handed_off(at=PG_MQL_AT, source="webinar")[0] for _ in range(n)]
    aes = [rf.rep(team=rf.team(), role=Rep.Role.AE) for _ in range(3)]
    return sdr, leads, aes


@postgres_transactional
def test_pg_concurrent_accepts_hand_each_lead_to_one_ae_once():
    sdr, leads, aes = _sdr_leads(20)

    def worker(i):
        for lead in leads:
            try:
                qualification.lead_accept(lead=Lead.objects.get(pk=lead.pk), actor=sdr.user, budget=True,
                                          need=True, authority=False, timeline=False, at=PG_ACCEPT)
            except (TransitionNotAllowed, ConcurrentTransition):
                pass  # the other worker accepted it first

    assert run_threads(worker, 4) == []
    assert Lead.objects.filter(lifecycle_stage="sql").count() == 20
    assert Assignment.objects.filter(trigger="sdr_handoff").count() == 20
    assert set(Lead.objects.values_list("owner_id", flat=True)) <= {a.pk for a in aes}
    assert LeadSla.objects.filter(phase="sql").count() == 20
    assert Task.objects.filter(kind="discovery_call").count() == 20
    handoffs = Notification.objects.filter(event="lead.assigned", channel="webhook",
                                           dedupe_key__in=[f"lead.assigned:{a.pk}:webhook" for a in
                                                           Assignment.objects.filter(trigger="sdr_handoff")])
    assert handoffs.count() == 20


@postgres_transactional
def test_pg_two_sweepers_fire_each_sql_step_once():
    sdr, leads, _ = _sdr_leads(30)
    for lead in leads:
        qualification.lead_accept(lead=lead, actor=sdr.user, budget=True, need=True, authority=False,
                                  timeline=False, at=PG_ACCEPT)
    assert SlaStep.objects.filter(status="pending", due_at__lte=PG_DISCOVERY_DUE).count() == 30
    results = []

    def sweeper(i):
        while True:
            result = sla_sweep_batch(now=PG_DISCOVERY_DUE, batch_size=7)
            results.append(result.fired)
            if not result.claimed:
                break

    assert run_threads(sweeper, 2) == []
    assert sum(results) == 30
    assert SlaStep.objects.filter(action="discovery_overdue", status="fired").count() == 30
    assert Notification.objects.filter(event="sla.breached", dedupe_key__endswith=":discovery_call").count() == 30
