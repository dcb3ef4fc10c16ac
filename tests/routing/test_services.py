"""The decision tree, round-robin choice and the handoff (owner, task, SLA, notifications)."""

import datetime as dt

import pytest

from leads.models import EngagementEvent
from pipeline.models import Deal, Task
from revops.flows.handoff import lead_handoff
from revops.models import Notification
from routing import engine
from routing.models import Assignment, LeadSla, Rep, RoutingStep, SlaPolicy, SlaStep, Territory
from tests import factories
from tests.routing import factories as rf

pytestmark = pytest.mark.django_db
MON = dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC)  # a Monday, inside 09:00-17:00 UTC


def test_defaults_exist_after_migrate():
    assert list(RoutingStep.objects.values_list("kind", flat=True)) == [
        "named_account", "enterprise", "plg", "territory", "round_robin", "fallback"]
    names = set(SlaPolicy.objects.values_list("name", flat=True))
    assert {"Speed-to-lead (hot leads)", "MQL-to-SQL standard (4 business hours)", "ABM tier 1 (1 hour)",
            "ABM tier 2 (4 hours)", "ABM tier 3 (same business day)", "Team queue"} <= names
    speed = SlaPolicy.objects.get(name="Speed-to-lead (hot leads)")
    assert [(s["after_minutes"], s["action"]) for s in speed.steps[:4]] == [
        (5, "remind_owner"), (15, "alert_backup"), (30, "alert_manager"), (60, "reassign")]


def test_handoff_assigns_creates_task_sla_and_notifies(django_capture_on_commit_callbacks):
    team = rf.team()
    rep = rf.rep(team=team)
    with django_capture_on_commit_callbacks(execute=True):
        lead, assignment = rf.handed_off(at=MON)
    assert lead.owner_id == rep.pk and assignment.rep_id == rep.pk and assignment.is_current
    assert assignment.rule == "Round-robin"
    assert [s["rule"] for s in assignment.skipped] == [
        "Named / target account owner", "Large ACV -> enterprise team", "PLG signup with team usage", "Territory"]
    assert assignment.policy == "MQL-to-SQL standard (4 business hours)"
    task = Task.objects.get(lead=lead)
    assert (task.kind, task.owner_id, task.due_at) == ("first_contact", rep.pk, MON + dt.timedelta(hours=4))
    sla = LeadSla.objects.get(lead=lead)
    assert sla.first_contact_due == MON + dt.timedelta(hours=4)
    assert sla.qualification_due == dt.datetime(2025, 6, 10, 10, 0, tzinfo=dt.UTC)  # 48 business hours
    assert set(Notification.objects.values_list("channel", "event")) == {("email", "lead.assigned"),
                                                                        ("webhook", "lead.assigned")}
    # Idempotent: the same MQL episode handed off again changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = lead_handoff(lead=lead, at=MON, trigger="")
    assert again.pk == assignment.pk
    assert Assignment.objects.count() == 1 and Task.objects.count() == 1 and Notification.objects.count() == 2


def test_night_mql_starts_clock_at_next_opening():
    rf.rep(team=rf.team(timezone="Europe/Berlin", holiday_country="DE"))
    night = dt.datetime(2025, 6, 2, 22, 0, tzinfo=dt.UTC)  # Mon 00:00 CEST Tuesday
    lead, _ = rf.handed_off(at=night, trigger="demo_request")
    sla = LeadSla.objects.get(lead=lead)
    assert sla.policy_name == "Speed-to-lead (hot leads)"
    assert sla.clock_start == dt.datetime(2025, 6, 3, 7, 0, tzinfo=dt.UTC)  # Tue 09:00 CEST
    assert sla.first_contact_due == dt.datetime(2025, 6, 3, 7, 5, tzinfo=dt.UTC)
    assert [s.due_at.strftime("%H:%M") for s in SlaStep.objects.filter(lead=lead).order_by("index")][:4] == [
        "07:05", "07:15", "07:30", "08:00"]


def test_named_account_owner_then_backup_when_on_pto():
    team = rf.team()
    owner = rf.rep(team=team)
    backup = rf.rep(team=team)
    owner.backup = backup
    owner.save()
    rf.rep(team=team)
    account = factories.AccountFactory(owner=owner.user, abm_tier=1)
    lead, assignment = rf.handed_off(at=MON, account=account)
    assert assignment.rep_id == owner.pk and assignment.rule == "Named / target account owner"
    assert assignment.policy == "ABM tier 1 (1 hour)"
    assert LeadSla.objects.get(lead=lead).first_contact_due == MON + dt.timedelta(hours=1)
    Rep.objects.filter(pk=owner.pk).update(on_pto=True)
    _, second = rf.handed_off(at=MON, account=account)
    assert second.rep_id == backup.pk and "on PTO" in second.reason


def test_open_deal_owner_gets_other_contacts():
    team = rf.team()
    rf.rep(team=team)
    deal_owner = rf.rep(team=team)
    account = factories.AccountFactory()
    Deal.objects.create(name="d", account=account, owner=deal_owner.user)
    _, assignment = rf.handed_off(at=MON, account=account)
    assert assignment.rep_id == deal_owner.pk and "open deal owner" in assignment.reason


def test_abm_tier_3_same_business_day():
    rf.rep(team=rf.team())
    account = factories.AccountFactory(abm_tier=3)
    lead, assignment = rf.handed_off(at=MON, account=account)
    assert assignment.policy == "ABM tier 3 (same business day)"
    assert LeadSla.objects.get(lead=lead).first_contact_due == MON.replace(hour=17)


def test_enterprise_and_plg_and_territory_steps():
    team = rf.team()
    rf.rep(team=team)
    ent = rf.rep(team=team, role=Rep.Role.ENTERPRISE_AE)
    plg = rf.rep(team=team, role=Rep.Role.PLG_SPECIALIST)
    _, a1 = rf.handed_off(at=MON, account=factories.AccountFactory(employees=5000))
    assert (a1.rep_id, a1.rule) == (ent.pk, "Large ACV -> enterprise team")

    lead = rf.mql_lead(at=MON)
    EngagementEvent.objects.create(lead=lead, type="team_member_invited", occurred_at=MON, idempotency_key="k1")
    a2 = lead_handoff(lead=lead, at=MON, trigger="")
    assert (a2.rep_id, a2.rule) == (plg.pk, "PLG signup with team usage")

    west_team = rf.team(name="West")
    west_owner = rf.rep(team=west_team)
    west_rr = rf.rep(team=west_team)
    Territory.objects.create(name="West", priority=10, countries=["US"], states=["CA", "WA"], team=west_team,
                             owner=west_owner)
    Territory.objects.create(name="US", priority=1, countries=["US"], team=team)
    _, a3 = rf.handed_off(at=MON, account=factories.AccountFactory(state="CA"))
    assert (a3.rep_id, a3.rule) == (west_owner.pk, "Territory") and "West" in a3.reason
    Rep.objects.filter(pk=west_owner.pk).update(active=False)
    _, a4 = rf.handed_off(at=MON, account=factories.AccountFactory(state="WA"))
    assert a4.rep_id == west_rr.pk and "round-robin in its team" in a4.reason


def test_fallback_queue_when_nobody_is_available():
    queue = rf.team(name="Inbound", queue_sla_minutes=60)
    RoutingStep.objects.filter(kind="fallback").update(team=queue)
    rf.rep(team=queue, on_pto=True)
    lead, assignment = rf.handed_off(at=MON)
    assert assignment.rep_id is None and assignment.team_id == queue.pk and lead.owner_id is None
    assert assignment.rule == "Fallback team queue" and assignment.policy == "Team queue"
    assert "no rep in the pool" in assignment.skipped[-1]["why"]
    assert LeadSla.objects.get(lead=lead).first_contact_due == MON + dt.timedelta(hours=1)
    assert Task.objects.get(lead=lead).owner_id is None


def test_rehandoff_keeps_one_current_assignment():
    rf.rep(team=rf.team())
    lead, first = rf.handed_off(at=MON)
    later = MON + dt.timedelta(days=30)
    lead.mql_at = later
    lead.save(update_fields=["mql_at"])
    second = lead_handoff(lead=lead, at=later, trigger="demo_request")
    assert second.pk != first.pk
    assert list(Assignment.objects.filter(lead=lead, is_current=True)) == [second]
    assert LeadSla.objects.filter(lead=lead, is_current=True).count() == 1


def test_round_robin_fewest_then_quota_then_longest_idle():
    old = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    new = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    a = engine.Candidate(1, 3, False, old)
    b = engine.Candidate(2, 2, False, new)
    assert engine.pick_round_robin([a, b]).rep_id == 2  # fewest wins
    c = engine.Candidate(3, 2, True, new)
    assert engine.pick_round_robin([b, c]).rep_id == 3  # below quota breaks the tie
    d = engine.Candidate(4, 2, False, old)
    assert engine.pick_round_robin([b, d]).rep_id == 4  # longest since last assignment
    assert engine.pick_round_robin([engine.Candidate(5, 1, False, new), c]).rep_id == 5  # bonus < 1 assignment
    assert engine.period_start(dt.datetime(2025, 6, 4, 15, tzinfo=dt.UTC)) == dt.datetime(2025, 6, 2, tzinfo=dt.UTC)


def test_round_robin_is_even_and_skips_unavailable_reps():
    team = rf.team()
    reps = [rf.rep(team=team) for _ in range(3)]
    rf.rep(team=team, on_pto=True)
    rf.rep(team=team, active=False)
    rf.rep(team=team, role=Rep.Role.MANAGER)
    full = rf.rep(team=team, capacity=0)
    for _ in range(9):
        rf.handed_off(at=MON)
    counts = {r.pk: Assignment.objects.filter(rep=r).count() for r in reps}
    assert set(counts.values()) == {3}
    assert not Assignment.objects.filter(rep=full).exists()


def test_dry_run_assigns_nothing():
    from routing.services import lead_route_dry_run

    rep = rf.rep(team=rf.team())
    lead = rf.mql_lead(at=MON)
    result = lead_route_dry_run(lead=lead, at=MON, trigger="demo_request")
    assert result.rep_id == rep.pk and result.policy.name == "Speed-to-lead (hot leads)"
    assert result.first_contact_due == MON + dt.timedelta(minutes=5)
    assert not Assignment.objects.exists() and not LeadSla.objects.exists()


def test_engine_allowed_roles_refuse_other_roles_and_narrow_pools():
    """The SDR -> AE handoff: the tree restricted to AE roles never names or draws an SDR."""
    ae_roles = frozenset({"ae", "enterprise_ae", "plg_specialist"})
    reps = {1: engine.RepFacts(1, 10, "sdr", True), 2: engine.RepFacts(2, 10, "ae", True)}
    steps = [
        engine.StepFacts(1, "Named", "named_account", {"abm_tiers": []}),
        engine.StepFacts(2, "SDR pool", "round_robin", {}, role="sdr"),
        engine.StepFacts(3, "Territory", "territory", {}),
        engine.StepFacts(4, "Round-robin", "round_robin", {}),
    ]
    territory = engine.TerritoryFacts(7, "US", 1, countries=("US",), team_id=10, owner_id=1)
    facts = engine.LeadFacts(1, account_owner_id=1, country="US")
    decision = engine.route(lead=facts, steps=steps, reps=reps, territories=[territory], allowed_roles=ae_roles)
    assert (decision.outcome, decision.step.name, decision.pool_team_ids, decision.pool_roles) == (
        "pool", "Territory", (10,), ("ae", "enterprise_ae", "plg_specialist"))
    assert [s["rule"] for s in decision.skipped] == ["Named", "SDR pool"]
    assert "has role sdr, not one of" in decision.skipped[0]["why"]
    # Without the restriction the same tree names the SDR account owner.
    plain = engine.route(lead=facts, steps=steps, reps=reps, territories=[territory])
    assert (plain.outcome, plain.rep_id) == ("rep", 1)
    # A pool step keeps its own allowed role; an unrestricted pool is narrowed.
    rr = engine.route(lead=engine.LeadFacts(2), steps=[engine.StepFacts(5, "Ent", "round_robin", {},
                                                                        role="enterprise_ae")],
                      reps=reps, territories=[], allowed_roles=ae_roles)
    assert rr.pool_roles == ("enterprise_ae",)
