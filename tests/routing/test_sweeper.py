"""The SLA sweeper with a controlled clock: each step at its business-time moment, exactly once."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import Lead
from pipeline.models import Task
from revops.models import Notification
from routing import services
from routing.models import Assignment, LeadSla, SlaPolicy, SlaStep
from routing.services import activity_log, sla_sweep, sla_sweep_batch
from tests import factories
from tests.routing import factories as rf

pytestmark = pytest.mark.django_db
UTC = dt.UTC
MON_1650 = dt.datetime(2025, 6, 2, 16, 50, tzinfo=UTC)  # Monday, 10 minutes before closing (09-17 UTC)


def at(day, hour, minute):
    return dt.datetime(2025, 6, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def setup():
    team = rf.team()
    owner, backup, manager, other = (rf.rep(team=team) for _ in range(4))
    manager.role = "manager"
    manager.save()
    owner.backup, owner.manager = backup, manager
    owner.save()
    lead, assignment = rf.handed_off(at=MON_1650, trigger="demo_request")
    assert lead.owner_id == owner.pk
    return {"lead": lead, "owner": owner, "backup": backup, "manager": manager, "other": other}


def fired(lead):
    return list(SlaStep.objects.filter(lead=lead, status="fired").order_by("index")
                .values_list("action", "fired_at", "to_id"))


def test_chain_fires_each_step_at_its_business_moment_once(setup, django_capture_on_commit_callbacks):
    lead, owner = setup["lead"], setup["owner"]
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_sweep(now=at(2, 16, 54)).fired == 0
        assert sla_sweep(now=at(2, 16, 55)).fired == 1
        assert sla_sweep(now=at(2, 16, 55)).fired == 0  # a second sweeper at the same moment: nothing
        assert sla_sweep(now=at(3, 9, 4)).fired == 0  # overnight does not count
        assert sla_sweep(now=at(3, 9, 5)).fired == 1
        assert sla_sweep(now=at(3, 9, 20)).fired == 1
        assert sla_sweep(now=at(3, 9, 49)).fired == 0
        result = sla_sweep(now=at(3, 9, 50))
    assert (result.fired, result.reassigned) == (1, 1)
    lead.refresh_from_db()
    new_owner = lead.owner_id
    assert new_owner in (setup["backup"].pk, setup["other"].pk)  # round-robin, never the same owner
    assert fired(lead) == [
        ("remind_owner", at(2, 16, 55), owner.pk),
        ("alert_backup", at(3, 9, 5), setup["backup"].pk),
        ("alert_manager", at(3, 9, 20), setup["manager"].pk),
        ("reassign", at(3, 9, 50), new_owner),
    ]
    current = Assignment.objects.get(lead=lead, is_current=True)
    assert (current.rep_id, current.rule) == (new_owner, "sla_reassign")
    assert Task.objects.get(lead=lead, kind="first_contact").owner_id == new_owner
    sla = LeadSla.objects.get(lead=lead)
    assert sla.breached_at == sla.first_contact_due == at(2, 16, 55)
    assert Notification.objects.filter(event="sla.breached").count() == 1
    assert Notification.objects.filter(event="sla.escalated", channel="webhook").count() == 4
    assert list(Notification.objects.filter(event="lead.reassigned").values_list("payload__to", flat=True)) == [
        new_owner]
    # Qualification overdue after 48 business hours, only once.
    assert sla_sweep(now=at(11, 16, 50)).fired == 1
    assert sla_sweep(now=at(12, 16, 50)).fired == 0


def test_after_downtime_only_the_current_step_fires(setup):
    result = sla_sweep(now=at(3, 9, 35))
    assert (result.fired, result.skipped) == (1, 2)
    assert [a for a, _, _ in fired(setup["lead"])] == ["alert_manager"]
    assert LeadSla.objects.get(lead=setup["lead"]).breached_at is not None


def test_first_contact_stops_the_chain(setup):
    lead = setup["lead"]
    sla_sweep(now=at(2, 16, 55))
    activity, first = activity_log(lead=lead, kind="call", occurred_at=at(3, 9, 1), actor=setup["owner"].user)
    assert first
    assert sla_sweep(now=at(3, 12, 0)).fired == 0
    assert SlaStep.objects.filter(lead=lead, status="pending").count() == 1  # the qualification step remains
    sla = LeadSla.objects.get(lead=lead)
    assert sla.first_contact_at == at(3, 9, 1) and sla.response_seconds == 16 * 3600 + 11 * 60
    assert Task.objects.get(lead=lead).completed_at == at(3, 9, 1)
    _, again = activity_log(lead=lead, kind="email", occurred_at=at(3, 10, 0))
    assert not again


def test_decided_lead_cancels_pending_steps(setup):
    Lead.objects.filter(pk=setup["lead"].pk).update(lifecycle_stage="sql")
    result = sla_sweep(now=at(20, 9, 0))
    assert (result.fired, result.cancelled) == (0, 5)


def test_killed_mid_batch_then_restarted_neither_loses_nor_repeats(monkeypatch, django_capture_on_commit_callbacks):
    rf.rep(team=rf.team())
    leads = [rf.handed_off(at=MON_1650, trigger="demo_request")[0] for _ in range(5)]
    real, calls = services._apply_claimed, {"n": 0}

    def crash_on_second_batch(**kwargs):
        calls["n"] += 1
        real(**kwargs)
        if calls["n"] == 2:
            raise RuntimeError("killed")  # after claiming and applying part of the work

    monkeypatch.setattr(services, "_apply_claimed", crash_on_second_batch)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=at(2, 16, 55), batch_size=2)
    assert SlaStep.objects.filter(status="fired").count() == 2  # the first batch committed
    assert SlaStep.objects.filter(status="pending", action="remind_owner").count() == 3  # rolled back
    first_times = dict(SlaStep.objects.filter(status="fired").values_list("pk", "fired_at"))
    monkeypatch.setattr(services, "_apply_claimed", real)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_sweep(now=at(2, 16, 56), batch_size=2).fired == 3
    reminders = SlaStep.objects.filter(action="remind_owner")
    assert reminders.filter(status="fired").count() == 5 == len(leads)
    assert dict(reminders.filter(pk__in=first_times).values_list("pk", "fired_at")) == first_times
    assert Notification.objects.filter(event="sla.escalated", channel="webhook").count() == 5


SQL_ACTIONS = {"discovery_overdue": "discovery_call", "opportunity_overdue": "opportunity"}


def _due_leads(n, *, action, team, owner):
    """n leads each with one due step of ``action`` (bulk, to keep the setup fast): MQLs on the MQL
    clock, or SQLs on the SQL clock for the SQL-to-Opportunity actions."""
    sql = action in SQL_ACTIONS
    policy = SlaPolicy.objects.get(name="SQL-to-Opportunity (seed 001)" if sql else "Speed-to-lead (hot leads)")
    accounts = factories.AccountFactory.build_batch(n)
    from leads.models import Account

    accounts = Account.objects.bulk_create(accounts)
    leads = Lead.objects.bulk_create([
        Lead(email=f"q{action}{i}@x{i}.com", account=a, lifecycle_stage="sql" if sql else "mql",
             mql_criteria_met=True, mql_at=MON_1650, sql_at=MON_1650 if sql else None, owner=owner.user)
        for i, a in enumerate(accounts)
    ])
    slas = LeadSla.objects.bulk_create([
        LeadSla(lead=lead, policy=policy, policy_name=policy.name, team=team, owner=owner.user,
                phase="sql" if sql else "mql", started_at=MON_1650, clock_start=MON_1650,
                first_contact_due=at(2, 16, 55), discovery_due=at(2, 16, 55) if sql else None,
                opportunity_due=at(2, 16, 55) if sql else None)
        for lead in leads
    ])
    SlaStep.objects.bulk_create([SlaStep(sla=s, lead=s.lead, index=0, action=action, due_at=at(2, 16, 55),
                                         stops_on=SQL_ACTIONS.get(action, "first_contact"), breach=True)
                                 for s in slas])
    kind = {"discovery_overdue": "discovery_call", "opportunity_overdue": "create_opportunity"}.get(
        action, "first_contact")
    Task.objects.bulk_create([Task(kind=kind, title="t", lead=lead, owner=owner.user,
                                   dedupe_key=f"fc{lead.pk}") for lead in leads])


@pytest.mark.parametrize("action", ["remind_owner", "alert_backup", "alert_manager", "reassign",
                                    "discovery_overdue", "opportunity_overdue"])
def test_query_count_per_batch_is_the_same_for_10_and_1000(action):
    team = rf.team()
    owner, backup = rf.rep(team=team), rf.rep(team=team)
    manager = rf.rep(team=team, role="manager")
    owner.backup, owner.manager = backup, manager
    owner.save()
    rf.rep(team=team)
    counts = []
    for n in (10, 1000):
        SlaStep.objects.all().delete()
        _due_leads(n, action=action, team=team, owner=owner)
        with CaptureQueriesContext(connection) as ctx:
            result = sla_sweep_batch(now=at(2, 17, 0), batch_size=5000)
        assert result.fired == n
        counts.append(len(ctx.captured_queries))
        if action in SQL_ACTIONS:
            assert LeadSla.objects.filter(breached_at=at(2, 16, 55)).count() == n
            assert set(SlaStep.objects.values_list("to_id", flat=True)) == {manager.pk}
        if action == "opportunity_overdue":
            assert LeadSla.objects.filter(pipeline_review_at=at(2, 16, 55)).count() == n
        Lead.objects.all().delete()
    assert counts[0] == counts[1], counts


def test_query_count_is_the_same_for_a_mixed_batch_of_10_and_1000():
    """Every action at once (both phases): still a fixed number of queries per batch."""
    team = rf.team()
    owner, backup = rf.rep(team=team), rf.rep(team=team)
    owner.backup = backup
    owner.save()
    rf.rep(team=team)
    actions = ["remind_owner", "alert_backup", "alert_manager", "reassign", "discovery_overdue",
               "opportunity_overdue"]
    counts = []
    for n in (10, 1000):
        SlaStep.objects.all().delete()
        for action in actions:
            _due_leads(n, action=action, team=team, owner=owner)
        with CaptureQueriesContext(connection) as ctx:
            result = sla_sweep_batch(now=at(2, 17, 0), batch_size=10000)
        assert result.fired == n * len(actions)
        counts.append(len(ctx.captured_queries))
        Lead.objects.all().delete()
    assert counts[0] == counts[1], counts
