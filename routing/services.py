"""Write use-cases of routing: configuration, routing decisions, SLA clocks, first contact, the SLA sweeper.

Every service takes keyword arguments and runs in one transaction; side effects (email,
webhooks) are enqueued with ``transaction.on_commit`` so a rolled-back change never notifies.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Cast
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from leads.models import Lead
from leads.services import enqueue_on_commit, record_change
from pipeline.models import Activity, Task

from . import engine, selectors
from .calendar import BusinessCalendar, add_business_days, add_business_time, end_of_business_day, next_opening
from .models import Assignment, LeadSla, Rep, SlaPolicy, SlaStep, Team, Territory

DEFAULT_QUOTA_BONUS = 0.5
DEFAULT_PERIOD = "week"

Phase = SlaPolicy.Phase
# Who may own an accepted lead: the tree decides which of them (enterprise AE, PLG specialist, AE).
AE_ROLES = frozenset({Rep.Role.AE, Rep.Role.ENTERPRISE_AE, Rep.Role.PLG_SPECIALIST})
# The seed-001 SQL-to-Opportunity SLA, used when no active ``sql`` policy exists.
DEFAULT_SQL_STEPS = [
    {"after_business_days": 3, "action": SlaPolicy.Action.DISCOVERY_OVERDUE},
    {"after_business_days": 5, "action": SlaPolicy.Action.OPPORTUNITY_OVERDUE},
]
# The follow-up task of each SLA phase / SQL chain; a phase's open tasks close when the lead leaves it.
PHASE_TASK_KINDS = {
    Phase.MQL: (Task.Kind.FIRST_CONTACT,),
    Phase.SQL: (Task.Kind.DISCOVERY_CALL, Task.Kind.CREATE_OPPORTUNITY),
}
CHAIN_TASK_KIND = {SlaStep.StopsOn.DISCOVERY_CALL: Task.Kind.DISCOVERY_CALL,
                   SlaStep.StopsOn.OPPORTUNITY: Task.Kind.CREATE_OPPORTUNITY}
STAGE_PHASE = {Lead.Stage.MQL: Phase.MQL, Lead.Stage.SQL: Phase.SQL}
DISCOVERY_KINDS = (Activity.Kind.CALL, Activity.Kind.MEETING)




# ---------------------------------------------------------------- configuration

@transaction.atomic
def rep_create(*, username: str, email: str, team: Team | None, role: str, actor=None, password: str | None = None,
               territories=(), **profile) -> Rep:
    """Create the user and its sales profile in one transaction."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": "A user with that username already exists."})
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password or None)
    except IntegrityError as exc:
        raise ValidationError({"username": "A user with that username already exists."}) from exc
    if not password:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if role == Rep.Role.MANAGER:
        # Managers work in the Django admin.
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    rep = Rep(user=user, team=team, role=role, **profile)
    rep.full_clean(exclude=["user"])
    record_change(rep, actor=actor, reason="created")
    rep.save()
    if territories:
        rep.territories.set(territories)
    return rep


@transaction.atomic
def rep_update(*, rep: Rep, actor=None, territories=None, email: str | None = None, **changes) -> Rep:
    for name, value in changes.items():
        setattr(rep, name, value)
    rep.full_clean(exclude=["user"])
    record_change(rep, actor=actor, reason="updated")
    rep.save()
    if territories is not None:
        rep.territories.set(territories)
    if email is not None and email != rep.user.email:
        rep.user.email = email
        rep.user.save(update_fields=["email"])
    return rep


@transaction.atomic
def team_create(*, actor=None, **fields) -> Team:
    team = Team(**fields)
    team.full_clean()
    record_change(team, actor=actor, reason="created")
    team.save()
    return team


@transaction.atomic
def territory_create(*, actor=None, **fields) -> Territory:
    territory = Territory(**fields)
    territory.full_clean()
    record_change(territory, actor=actor, reason="created")
    territory.save()
    return territory


# ---------------------------------------------------------------- routing

@dataclass
class RoutingResult:
    rep_id: int | None
    team_id: int | None
    rule: str
    reason: str
    skipped: list[dict]
    policy: SlaPolicy | None
    first_contact_due: dt.datetime | None = None
    assignment: Assignment | None = None
    step_policy_id: int | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "rep": self.rep_id,
            "team": self.team_id,
            "rule": self.rule,
            "reason": self.reason,
            "skipped": self.skipped,
            "policy": self.policy.name if self.policy else None,
            "first_contact_due": self.first_contact_due,
        }


def _draw(*, team_ids, role: str | tuple[str, ...], at: dt.datetime, conditions: dict, lock: bool,
          exclude_rep_ids=()) -> int | None:
    """Pick the round-robin winner of a pool; with ``lock`` the pool's rep rows are locked first.

    Locking every candidate row in primary-key order serialises concurrent draws on the same
    pool (and cannot deadlock, the order being global); counts are read *after* the lock, in a
    new statement, so each draw sees the assignments committed by the previous holder.
    """
    pool = selectors.pool_queryset(team_ids=team_ids, role=role, exclude_rep_ids=exclude_rep_ids)
    rep_ids = None
    if lock:
        rep_ids = list(pool.order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True))
        if not rep_ids:
            return None
    since = engine.period_start(at, conditions.get("period", DEFAULT_PERIOD))
    candidates = selectors.pool_candidates(team_ids=team_ids, role=role, since=since,
                                           exclude_rep_ids=exclude_rep_ids, rep_ids=rep_ids)
    winner = engine.pick_round_robin(candidates, quota_bonus=float(conditions.get("quota_bonus",
                                                                                  DEFAULT_QUOTA_BONUS)))
    return winner.rep_id if winner else None


def _decide(*, lead: Lead, at: dt.datetime, trigger: str, lock: bool,
            allowed_roles: frozenset[str] | None = None) -> RoutingResult:
    """Walk the tree; a pool with nobody eligible falls through to the next step (and says so).
    ``allowed_roles`` keeps every rep the tree names or draws inside those roles (SDR -> AE handoff)."""
    facts = selectors.lead_facts(lead=lead, trigger=trigger)
    steps = selectors.routing_steps()
    reps = selectors.rep_facts()
    territories = selectors.territory_facts()
    start, skipped = 0, []
    while True:
        decision = engine.route(lead=facts, steps=steps, reps=reps, territories=territories, start_index=start,
                                skipped=skipped, allowed_roles=allowed_roles)
        if decision is None:
            # No fallback step configured: the lead waits unowned in the general queue (admins see it).
            return RoutingResult(None, None, "fallback", "no routing step matched: general queue", skipped,
                                 None)
        if decision.outcome == "pool":
            rep_id = _draw(team_ids=decision.pool_team_ids, role=decision.pool_role or decision.pool_roles, at=at,
                           conditions=decision.step.conditions, lock=lock)
            if rep_id is None:
                skipped = decision.skipped + [{"rule": decision.step.name,
                                               "why": f"{decision.reason}, but no rep in the pool is active, "
                                                      "off PTO and below capacity"}]
                start = decision.step_index + 1
                continue
            team_id = reps[rep_id].team_id if rep_id in reps else decision.team_id
            return RoutingResult(rep_id, team_id, decision.step.name, decision.reason, decision.skipped, None,
                                 step_policy_id=decision.step.policy_id)
        return RoutingResult(decision.rep_id, decision.team_id, decision.step.name, decision.reason,
                             decision.skipped, None, step_policy_id=decision.step.policy_id)


def _policy_for(*, lead: Lead, result: RoutingResult, trigger: str) -> SlaPolicy | None:
    account = lead.account
    return selectors.sla_policy_for(abm_tier=account.abm_tier if account else 0, segment=lead.segment or "default",
                                    trigger=trigger, for_queue=result.rep_id is None,
                                    forced_policy_id=result.step_policy_id)


def _first_contact_due(*, policy: SlaPolicy | None, start: dt.datetime, calendar: BusinessCalendar,
                       team: Team | None) -> dt.datetime:
    if policy is not None and policy.first_contact_minutes is not None:
        return add_business_time(start, policy.first_contact_minutes, calendar)
    if policy is not None and policy.for_queue:
        return add_business_time(start, team.queue_sla_minutes if team else 60, calendar)
    # No minutes: "same business day" (ABM tier 3); without any policy, the seed's 4 business hours.
    if policy is not None:
        return end_of_business_day(start, calendar)
    return add_business_time(start, 240, calendar)


def lead_route_dry_run(*, lead: Lead, at: dt.datetime | None = None, trigger: str = "") -> RoutingResult:
    """Who would get this lead now, and why — without locking, assigning or writing anything."""
    at = at or timezone.now()
    result = _decide(lead=lead, at=at, trigger=trigger, lock=False)
    result.policy = _policy_for(lead=lead, result=result, trigger=trigger)
    team = Team.objects.filter(pk=result.team_id).first() if result.team_id else None
    result.first_contact_due = _first_contact_due(policy=result.policy, start=at,
                                                  calendar=BusinessCalendar.for_team(team), team=team)
    return result


def _assignment_payload(lead: Lead, assignment: Assignment, event: str, due, *,
                        due_label: str = "first contact") -> dict:
    who = assignment.rep.user.get_username() if assignment.rep_id else f"team queue {assignment.team_id}"
    key = due_label.replace(" ", "_") + "_due"
    return {
        "text": f"[revops] {event}: lead {lead.email} -> {who} ({assignment.rule}: {assignment.reason}); "
                f"{due_label} due {due.isoformat() if due else 'n/a'}",
        "lead": lead.pk, "email": lead.email, "rep": assignment.rep_id, "team": assignment.team_id,
        "rule": assignment.rule, "policy": assignment.policy, "note": assignment.note,
        key: due.isoformat() if due else None,
    }


def _enqueue_on_commit(messages: list[dict]) -> None:
    """One django-q2 task per commit delivers a whole list of deduped notifications."""
    if messages:
        enqueue_on_commit("revops.jobs.deliver_notifications", messages=messages)


@transaction.atomic
def lead_handoff(*, lead: Lead, at: dt.datetime, trigger: str = "", actor=None) -> Assignment:
    """Route a lead that just became MQL: Assignment, owner, first-contact task, SLA clock, notifications.

    Exactly once per MQL episode: the lead row is locked, and a current assignment already made
    for this ``mql_at`` is returned as is (retries, duplicate deliveries, concurrent callers).
    """
    Lead.objects.select_for_update().filter(pk=lead.pk).values_list("pk", flat=True).first()
    mql_at = lead.mql_at or at
    existing = Assignment.objects.filter(lead_id=lead.pk, is_current=True, mql_at=mql_at).first()
    if existing is not None:
        return existing

    result = _decide(lead=lead, at=at, trigger=trigger, lock=True)
    result.policy = _policy_for(lead=lead, result=result, trigger=trigger)
    team = Team.objects.filter(pk=result.team_id).first() if result.team_id else None
    calendar = BusinessCalendar.for_team(team)

    # A recycled lead that qualifies again is routed with the flag (SPEC §6).
    note = "recycled MQL" if lead.is_recycled else ""
    Assignment.objects.filter(lead_id=lead.pk, is_current=True).update(is_current=False)
    assignment = Assignment.objects.create(
        lead=lead, rep_id=result.rep_id, team=team, rule=result.rule,
        reason=f"{note}; {result.reason}" if note else result.reason, note=note,
        skipped=result.skipped, policy=result.policy.name if result.policy else "", trigger=trigger, mql_at=mql_at,
    )
    if result.rep_id is not None:
        Rep.objects.filter(pk=result.rep_id).update(last_assigned_at=timezone.now())
    if lead.owner_id != result.rep_id:
        lead.owner_id = result.rep_id
        record_change(lead, actor=actor, reason=f"routed: {result.rule}")
        lead.save(update_fields=["owner", "updated_at"])

    sla = _sla_start(lead=lead, assignment=assignment, policy=result.policy, team=team, calendar=calendar,
                     started_at=mql_at, trigger=trigger)
    Task.objects.get_or_create(
        dedupe_key=f"first_contact:{lead.pk}:{sla.pk}",
        defaults={"kind": Task.Kind.FIRST_CONTACT, "lead": lead, "owner_id": result.rep_id,
                  "title": f"Contact {lead.full_name or lead.email} ({sla.policy_name})",
                  "due_at": sla.first_contact_due},
    )
    payload = _assignment_payload(lead, assignment, "lead.assigned", sla.first_contact_due)
    messages = [{"channel": "webhook", "event": "lead.assigned", "payload": payload,
                 "dedupe_key": f"lead.assigned:{assignment.pk}:webhook"}]
    if assignment.rep_id and assignment.rep.user.email:
        messages.append({"channel": "email", "event": "lead.assigned", "to": assignment.rep.user.email,
                         "subject": f"New lead: {lead.full_name or lead.email}",
                         "body": payload["text"], "dedupe_key": f"lead.assigned:{assignment.pk}:email"})
    _enqueue_on_commit(messages)
    return assignment


def _sla_start(*, lead, assignment, policy, team, calendar, started_at, trigger) -> LeadSla:
    """Start the MQL clock: due times in business time of the owner's team calendar, one row per step.

    A new MQL episode supersedes every clock of the previous one (both phases): their pending steps
    are cancelled and their open follow-up tasks closed (a recycled lead's old first-contact task).
    """
    LeadSla.objects.filter(lead_id=lead.pk, is_current=True).update(is_current=False)
    LeadSla.objects.filter(lead_id=lead.pk, closed_at__isnull=True, started_at__lt=started_at).update(
        closed_at=started_at)
    SlaStep.objects.filter(lead_id=lead.pk, status=SlaStep.Status.PENDING).update(
        status=SlaStep.Status.CANCELLED, note="superseded by a new handoff")
    Task.objects.filter(lead_id=lead.pk, kind__in=PHASE_TASK_KINDS[Phase.MQL] + PHASE_TASK_KINDS[Phase.SQL],
                        completed_at__isnull=True).update(completed_at=started_at)
    due = _first_contact_due(policy=policy, start=started_at, calendar=calendar, team=team)
    qualification_due = None
    if policy is not None and policy.qualification_minutes:
        qualification_due = add_business_time(started_at, policy.qualification_minutes, calendar)
    sla = LeadSla.objects.create(
        lead=lead, assignment=assignment, policy=policy, policy_name=policy.name if policy else "default",
        team=team, owner_id=assignment.rep_id, trigger=trigger, started_at=started_at,
        clock_start=next_opening(started_at, calendar), first_contact_due=due, qualification_due=qualification_due,
    )
    rows = []
    for index, step in enumerate((policy.steps if policy else []) or []):
        action = step["action"]
        if action in SlaPolicy.SQL_ONLY_ACTIONS:
            continue  # not an action of this phase (SlaPolicy.clean refuses it; JSON edited by hand)
        stops_on = (SlaStep.StopsOn.DECISION if action == SlaPolicy.Action.QUALIFICATION_OVERDUE
                    else SlaStep.StopsOn.FIRST_CONTACT)
        if step.get("at_due"):
            due_at = due
        else:
            due_at = add_business_time(started_at, int(step.get("after_minutes", 0)), calendar)
        rows.append(SlaStep(sla=sla, lead=lead, index=index, action=action, stops_on=stops_on, due_at=due_at,
                            breach=stops_on == SlaStep.StopsOn.FIRST_CONTACT and due_at >= due))
    SlaStep.objects.bulk_create(rows)
    return sla


# ---------------------------------------------------------------- accept: SDR -> AE handoff, SQL SLA clock

@transaction.atomic
def lead_sql_handoff(*, lead: Lead, at: dt.datetime, actor=None) -> LeadSla:
    """A lead just accepted (SQL): an SDR owner hands it to an AE through routing, then the SQL clock starts.

    The SDR -> AE handoff walks the decision tree restricted to AE roles (``AE_ROLES``: the tree
    decides between enterprise AE, PLG specialist and AE; never an SDR) and records an Assignment
    noted "SDR handoff from <sdr>"; the AE becomes owner and is notified (email + webhook on commit).
    The SQL clock (seed 001): discovery call within 3 business days of the SQL, opportunity within 5,
    in business time of the owner's team calendar, with a follow-up task for each.

    Exactly once per SQL episode: the lead row is locked; a retry finds the clock (and the handoff,
    one per MQL episode by constraint) it already made and returns it unchanged.
    """
    Lead.objects.select_for_update().filter(pk=lead.pk).values_list("pk", flat=True).first()
    sql_at = lead.sql_at or at
    existing = LeadSla.objects.filter(lead_id=lead.pk, phase=Phase.SQL, is_current=True, started_at=sql_at).first()
    if existing is not None:
        return existing
    owner = Rep.objects.select_related("user", "team").filter(pk=lead.owner_id).first() if lead.owner_id else None
    assignment = None
    if owner is not None and owner.role == Rep.Role.SDR:
        assignment = _sdr_handoff(lead=lead, at=at, actor=actor, sdr=owner)
        owner = assignment.rep
    current = assignment or Assignment.objects.filter(lead_id=lead.pk, is_current=True).select_related("team").first()
    team = owner.team if owner is not None and owner.team_id else (current.team if current else None)
    sla = _sql_sla_start(lead=lead, assignment=current, owner_id=owner.pk if owner else None, team=team,
                         started_at=sql_at)
    if assignment is not None:
        payload = _assignment_payload(lead, assignment, "lead.assigned", sla.discovery_due,
                                      due_label="discovery call")
        messages = [{"channel": "webhook", "event": "lead.assigned", "payload": payload,
                     "dedupe_key": f"lead.assigned:{assignment.pk}:webhook"}]
        if assignment.rep_id and assignment.rep.user.email:
            messages.append({"channel": "email", "event": "lead.assigned", "to": assignment.rep.user.email,
                             "subject": f"SQL handed to you: {lead.full_name or lead.email}",
                             "body": payload["text"], "dedupe_key": f"lead.assigned:{assignment.pk}:email"})
        _enqueue_on_commit(messages)
    return sla


def _sdr_handoff(*, lead: Lead, at: dt.datetime, actor, sdr: Rep) -> Assignment:
    existing = Assignment.objects.filter(lead_id=lead.pk, trigger=Assignment.SDR_HANDOFF,
                                         mql_at=lead.mql_at).select_related("rep__user", "team").first()
    if existing is not None:
        return existing
    result = _decide(lead=lead, at=at, trigger=Assignment.SDR_HANDOFF, lock=True, allowed_roles=AE_ROLES)
    team = Team.objects.filter(pk=result.team_id).first() if result.team_id else None
    note = f"SDR handoff from {sdr}"
    if result.rep_id is None:
        note += ": no AE available, team queue"
    account = lead.account
    policy = selectors.sla_policy_for(abm_tier=account.abm_tier if account else 0, segment=lead.segment or "default",
                                      trigger="", phase=Phase.SQL)
    Assignment.objects.filter(lead_id=lead.pk, is_current=True).update(is_current=False)
    assignment = Assignment.objects.create(
        lead=lead, rep_id=result.rep_id, team=team, rule=result.rule, reason=f"{note}; {result.reason}",
        note=note[:200], skipped=result.skipped, policy=policy.name if policy else "default",
        trigger=Assignment.SDR_HANDOFF, mql_at=lead.mql_at,
    )
    if result.rep_id is not None:
        Rep.objects.filter(pk=result.rep_id).update(last_assigned_at=timezone.now())
    lead.owner_id = result.rep_id
    record_change(lead, actor=actor, reason=f"SDR handoff: {result.rule}")
    lead.save(update_fields=["owner", "updated_at"])
    return Assignment.objects.select_related("rep__user", "team").get(pk=assignment.pk)


def _sql_chain(step: dict) -> str:
    if step["action"] == SlaPolicy.Action.DISCOVERY_OVERDUE:
        return SlaStep.StopsOn.DISCOVERY_CALL
    if step["action"] == SlaPolicy.Action.OPPORTUNITY_OVERDUE:
        return SlaStep.StopsOn.OPPORTUNITY
    return step.get("stops_on") or SlaStep.StopsOn.DISCOVERY_CALL


def _sql_sla_start(*, lead: Lead, assignment, owner_id, team, started_at: dt.datetime) -> LeadSla:
    """The SQL clock: one row per policy step, due in business time from the SQL; a task per chain."""
    calendar = BusinessCalendar.for_team(team)
    account = lead.account
    policy = selectors.sla_policy_for(abm_tier=account.abm_tier if account else 0, segment=lead.segment or "default",
                                      trigger="", phase=Phase.SQL)
    LeadSla.objects.filter(lead_id=lead.pk, phase=Phase.SQL, is_current=True).update(is_current=False)
    SlaStep.objects.filter(lead_id=lead.pk, status=SlaStep.Status.PENDING, sla__phase=Phase.SQL).update(
        status=SlaStep.Status.CANCELLED, note="superseded by a new SQL clock")
    planned = []
    for index, step in enumerate((policy.steps if policy else DEFAULT_SQL_STEPS) or []):
        action = step["action"]
        if action in SlaPolicy.MQL_ONLY_ACTIONS:
            continue  # not an action of this phase (SlaPolicy.clean refuses it; JSON edited by hand)
        if "after_business_days" in step:
            due_at = add_business_days(started_at, int(step["after_business_days"]), calendar)
        else:
            due_at = add_business_time(started_at, int(step.get("after_minutes", 0)), calendar)
        planned.append((index, action, _sql_chain(step), due_at, action in SlaPolicy.SQL_ONLY_ACTIONS))
    deadlines = {}
    for _, _, chain, due_at, breach in planned:
        if breach:
            deadlines[chain] = min(due_at, deadlines.get(chain, due_at))
    discovery_due = deadlines.get(SlaStep.StopsOn.DISCOVERY_CALL)
    opportunity_due = deadlines.get(SlaStep.StopsOn.OPPORTUNITY)
    clock_start = next_opening(started_at, calendar)
    sla = LeadSla.objects.create(
        lead=lead, phase=Phase.SQL, assignment=assignment, policy=policy,
        policy_name=policy.name if policy else "default SQL-to-Opportunity", team=team, owner_id=owner_id,
        trigger="sql", started_at=started_at, clock_start=clock_start,
        first_contact_due=discovery_due or opportunity_due or clock_start,
        discovery_due=discovery_due, opportunity_due=opportunity_due,
    )
    SlaStep.objects.bulk_create([
        SlaStep(sla=sla, lead=lead, index=index, action=action, stops_on=chain, due_at=due_at, breach=breach)
        for index, action, chain, due_at, breach in planned
    ])
    name = lead.full_name or lead.email
    for chain, due in ((SlaStep.StopsOn.DISCOVERY_CALL, discovery_due), (SlaStep.StopsOn.OPPORTUNITY,
                                                                          opportunity_due)):
        if due is None:
            continue
        kind = CHAIN_TASK_KIND[chain]
        title = f"Discovery call with {name}" if chain == SlaStep.StopsOn.DISCOVERY_CALL else \
            f"Create the opportunity for {name}"
        Task.objects.get_or_create(dedupe_key=f"{kind}:{lead.pk}:{sla.pk}", defaults={
            "kind": kind, "lead": lead, "owner_id": owner_id, "title": f"{title} ({sla.policy_name})",
            "due_at": due})
    return sla


@transaction.atomic
def lead_sla_close(*, lead: Lead, at: dt.datetime) -> int:
    """The lead left an SLA phase (accepted, rejected, converted, archived): close it at once.

    Every pending step of a phase the lead is no longer in is cancelled now (not lazily by the
    sweeper), that phase's open follow-up tasks are closed (``completed_at = at``) and its current
    clock is stamped ``closed_at``. Uses ``lead.lifecycle_stage`` as the caller just left it.
    Returns the number of steps cancelled.
    """
    left = [phase for phase in Phase.values if phase != STAGE_PHASE.get(lead.lifecycle_stage)]
    cancelled = SlaStep.objects.filter(lead_id=lead.pk, status=SlaStep.Status.PENDING, sla__phase__in=left).update(
        status=SlaStep.Status.CANCELLED, note=f"lead left the phase ({lead.lifecycle_stage})")
    LeadSla.objects.filter(lead_id=lead.pk, is_current=True, phase__in=left, closed_at__isnull=True).update(
        closed_at=at)
    kinds = [kind for phase in left for kind in PHASE_TASK_KINDS[phase]]
    Task.objects.filter(lead_id=lead.pk, kind__in=kinds, completed_at__isnull=True).update(completed_at=at)
    return cancelled


@transaction.atomic
def lead_opportunity_created(*, lead: Lead, at: dt.datetime) -> None:
    """The lead converted to an opportunity: the SQL clock's opportunity step is met, the phase closes."""
    LeadSla.objects.filter(lead_id=lead.pk, phase=Phase.SQL, is_current=True, opportunity_at__isnull=True).update(
        opportunity_at=at)
    SlaStep.objects.filter(lead_id=lead.pk, status=SlaStep.Status.PENDING, sla__phase=Phase.SQL,
                           stops_on=SlaStep.StopsOn.OPPORTUNITY).update(
        status=SlaStep.Status.CANCELLED, note="opportunity created")
    lead_sla_close(lead=lead, at=at)


# ---------------------------------------------------------------- first contact, discovery call

@transaction.atomic
def activity_log(*, lead: Lead, kind: str, occurred_at: dt.datetime | None = None, note: str = "",
                 actor=None) -> tuple[Activity, bool]:
    """Log a call / email / meeting. The first one at or after the MQL is the first contact: it
    stamps the SLA, stops the first-contact chain and completes the follow-up task. A call or
    meeting at or after the SQL is the discovery call: it stops the SQL clock's discovery chain
    and completes the discovery-call task.

    Returns ``(activity, is_first_contact)``.
    """
    if kind not in Activity.Kind.values:
        raise ValidationError({"kind": f"Must be one of {', '.join(Activity.Kind.values)}."})
    occurred_at = occurred_at or timezone.now()
    activity = Activity(kind=kind, lead=lead, rep=actor if getattr(actor, "is_authenticated", False) else None,
                        occurred_at=occurred_at, note=note or "")
    record_change(activity, actor=actor, reason="logged")
    activity.save()
    clocks = {sla.phase: sla for sla in LeadSla.objects.filter(lead_id=lead.pk, is_current=True)}
    if kind in DISCOVERY_KINDS:
        _discovery_call(lead=lead, sla=clocks.get(Phase.SQL), occurred_at=occurred_at)
    sla = clocks.get(Phase.MQL)
    if sla is None or occurred_at < sla.started_at:
        return activity, False
    # Conditional update: concurrent loggers agree on the earliest touch, and only one stops the chain.
    first = LeadSla.objects.filter(pk=sla.pk).filter(
        Q(first_contact_at__isnull=True) | Q(first_contact_at__gt=occurred_at)
    ).update(first_contact_at=occurred_at,
             response_seconds=max(0, int((occurred_at - sla.started_at).total_seconds())))
    if first:
        SlaStep.objects.filter(sla_id=sla.pk, status=SlaStep.Status.PENDING,
                               stops_on=SlaStep.StopsOn.FIRST_CONTACT).update(
            status=SlaStep.Status.CANCELLED, note="first contact made")
        Task.objects.filter(lead_id=lead.pk, kind=Task.Kind.FIRST_CONTACT, completed_at__isnull=True).update(
            completed_at=occurred_at)
    return activity, bool(first)


def _discovery_call(*, lead: Lead, sla: LeadSla | None, occurred_at: dt.datetime) -> bool:
    """Stamp the SQL clock's discovery call (earliest wins) and stop its discovery chain once."""
    if sla is None or occurred_at < sla.started_at:
        return False
    stamped = LeadSla.objects.filter(pk=sla.pk).filter(
        Q(discovery_at__isnull=True) | Q(discovery_at__gt=occurred_at)
    ).update(discovery_at=occurred_at, first_contact_at=occurred_at)
    if stamped:
        SlaStep.objects.filter(sla_id=sla.pk, status=SlaStep.Status.PENDING,
                               stops_on=SlaStep.StopsOn.DISCOVERY_CALL).update(
            status=SlaStep.Status.CANCELLED, note="discovery call made")
        Task.objects.filter(lead_id=lead.pk, kind=Task.Kind.DISCOVERY_CALL, completed_at__isnull=True).update(
            completed_at=occurred_at)
    return bool(stamped)


# ---------------------------------------------------------------- the SLA sweeper

@dataclass
class SweepResult:
    claimed: int = 0
    fired: int = 0
    skipped: int = 0
    cancelled: int = 0
    reassigned: int = 0
    batches: int = 0


@contextlib.contextmanager
def _sqlite_real_param_limit():
    """Django assumes SQLite allows 999 parameters and splits bulk writes; the linked library allows
    far more. Using the real limit keeps a batch at a fixed number of queries whatever its size."""
    features = connection.features
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    import sqlite3

    old = features.max_query_params
    features.max_query_params = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    try:
        yield
    finally:
        features.max_query_params = old


def sla_sweep(*, now: dt.datetime | None = None, batch_size: int = 500, max_batches: int = 1000) -> SweepResult:
    """Fire every due SLA step once. Each batch is one transaction; safe with several sweepers."""
    now = now or timezone.now()
    total = SweepResult()
    for _ in range(max_batches):
        result = sla_sweep_batch(now=now, batch_size=batch_size)
        if not result.claimed:
            break
        for name in ("claimed", "fired", "skipped", "cancelled", "reassigned"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.batches += 1
    return total


@transaction.atomic
def sla_sweep_batch(*, now: dt.datetime, batch_size: int = 500) -> SweepResult:
    """Claim up to ``batch_size`` due steps with one conditional UPDATE and apply them set-based.

    Claim and effects commit together: a sweeper killed mid-batch rolls back both, so the steps
    stay pending for the next run (nothing lost, nothing doubled). A concurrent sweeper's UPDATE
    skips rows already locked (PostgreSQL SKIP LOCKED) or finds them no longer pending.
    The number of queries does not depend on the batch size.
    """
    token = uuid.uuid4()
    due = SlaStep.objects.filter(status=SlaStep.Status.PENDING, due_at__lte=now).order_by("due_at", "id")
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    # Ids first, then the conditional UPDATE: an IN (subquery LIMIT n FOR UPDATE) inside the UPDATE
    # may be re-evaluated by PostgreSQL and claim more than ``batch_size`` rows.
    ids = list(due.values_list("pk", flat=True)[:batch_size])
    if not ids:
        return SweepResult()
    claimed = SlaStep.objects.filter(pk__in=ids, status=SlaStep.Status.PENDING).update(
        claim=token, status=SlaStep.Status.FIRED)
    result = SweepResult(claimed=claimed)
    if not claimed:
        return result
    with _sqlite_real_param_limit():
        _apply_claimed(token=token, now=now, result=result)
    return result


def _apply_claimed(*, token, now: dt.datetime, result: SweepResult) -> None:
    rows = list(
        SlaStep.objects.filter(claim=token).select_related(
            "sla", "sla__team", "lead", "lead__owner", "lead__owner__rep", "lead__owner__rep__backup__user",
            "lead__owner__rep__manager__user",
        ).order_by("sla_id", "index")
    )
    # Team managers stand in for a missing owner / manager (queue leads): one query per batch.
    team_ids = {r.sla.team_id for r in rows if r.sla.team_id}
    managers: dict[int, object] = {}
    for rep in Rep.objects.filter(team_id__in=team_ids, role=Rep.Role.MANAGER, active=True).select_related(
            "user").order_by("pk"):
        managers.setdefault(rep.team_id, rep.user)

    live, cancelled = [], []
    for row in rows:
        (live if _still_due(row) else cancelled).append(row)

    # After downtime only the latest due step of each chain fires; earlier ones are marked skipped.
    latest: dict[tuple, SlaStep] = {}
    for row in live:
        key = (row.sla_id, row.stops_on)
        if key not in latest or row.index > latest[key].index:
            latest[key] = row
    fire = list(latest.values())
    fire_ids = {r.pk for r in fire}
    skipped = [r for r in live if r.pk not in fire_ids]
    breached_sla_ids = {r.sla_id for r in live if r.breach and r.sla.phase == Phase.MQL}
    # SQL clock: each chain breaches on its own (discovery, then opportunity); the clock keeps the first.
    sql_breaches: dict[tuple[int, str], SlaStep] = {}
    for row in live:
        if row.breach and row.sla.phase == Phase.SQL:
            key = (row.sla_id, row.stops_on)
            if key not in sql_breaches or row.due_at < sql_breaches[key].due_at:
                sql_breaches[key] = row
    sql_breached_at: dict[int, dt.datetime] = {}
    for (sla_id, _), row in sql_breaches.items():
        sql_breached_at[sla_id] = min(row.due_at, sql_breached_at.get(sla_id, row.due_at))
    review_sla_ids = {r.sla_id for r in live if r.action == SlaPolicy.Action.OPPORTUNITY_OVERDUE}

    # Read owners (and their reps) before reassigning: changing owner_id drops the cached relation.
    owners = {}
    for row in fire:
        owner = row.lead.owner
        owners[row.pk] = (owner, getattr(owner, "rep", None) if owner is not None else None)
    reassign_rows = [r for r in fire if r.action == SlaPolicy.Action.REASSIGN]
    new_owners = _reassign_batch(rows=reassign_rows, now=now) if reassign_rows else {}
    result.reassigned = sum(1 for v in new_owners.values() if v is not None)

    messages = []
    for row in fire:
        lead = row.lead
        owner, rep = owners[row.pk]
        team_manager = managers.get(row.sla.team_id)
        to, note = None, ""
        if row.action == SlaPolicy.Action.REMIND_OWNER:
            to = owner or team_manager
            note = "first contact is due" if owner else "queue lead not picked up"
        elif row.action == SlaPolicy.Action.ALERT_BACKUP:
            to = rep.backup.user if rep is not None and rep.backup_id else None
            note = "" if to else "no backup configured"
        elif row.action in (SlaPolicy.Action.ALERT_MANAGER, SlaPolicy.Action.QUALIFICATION_OVERDUE,
                            SlaPolicy.Action.DISCOVERY_OVERDUE, SlaPolicy.Action.OPPORTUNITY_OVERDUE):
            to = rep.manager.user if rep is not None and rep.manager_id else team_manager
            note = "" if to else "no manager configured"
            if row.action == SlaPolicy.Action.OPPORTUNITY_OVERDUE:
                note = "; ".join(filter(None, ["flagged for pipeline review", note]))
        elif row.action == SlaPolicy.Action.REASSIGN:
            to = new_owners.get(row.lead_id)
            note = "reassigned by round-robin" if to else "no other eligible rep: owner kept"
        row.to, row.note, row.fired_at = to, note, now
        text = (f"[revops] SLA {row.get_action_display().lower()}: lead {lead.email} "
                f"({row.sla.policy_name}, {_deadline_text(row)})")
        payload = {"text": text, "lead": lead.pk, "action": row.action, "to": getattr(to, "pk", None),
                   "policy": row.sla.policy_name, "phase": row.sla.phase}
        messages.append({"channel": "webhook", "event": "sla.escalated", "payload": payload,
                         "dedupe_key": f"sla.step:{row.pk}:webhook"})
        if row.action == SlaPolicy.Action.REASSIGN and to is not None:
            messages.append({"channel": "webhook", "event": "lead.reassigned",
                             "payload": {**payload, "text": f"[revops] Lead {lead.email} reassigned to "
                                                           f"{to.get_username()} (no first contact in time)"},
                             "dedupe_key": f"lead.reassigned:{row.pk}"})
        if to is not None and to.email:
            messages.append({"channel": "email", "event": "sla.escalated", "to": to.email,
                             "subject": f"SLA: {row.get_action_display()} — {lead.email}", "body": text,
                             "dedupe_key": f"sla.step:{row.pk}:email"})
    sla_by_id = {r.sla_id: r.sla for r in live}
    for sla_id in breached_sla_ids:
        sla = sla_by_id[sla_id]
        messages.append({"channel": "webhook", "event": "sla.breached",
                         "payload": {"text": f"[revops] SLA breached: lead {sla.lead_id} ({sla.policy_name})",
                                     "lead": sla.lead_id, "policy": sla.policy_name,
                                     "first_contact_due": sla.first_contact_due.isoformat()},
                         "dedupe_key": f"sla.breached:{sla_id}"})
    for (sla_id, chain), row in sql_breaches.items():
        sla = row.sla
        what = "discovery call" if chain == SlaStep.StopsOn.DISCOVERY_CALL else "opportunity"
        messages.append({"channel": "webhook", "event": "sla.breached",
                         "payload": {"text": f"[revops] SQL SLA breached: no {what} for lead {sla.lead_id} by "
                                             f"{row.due_at.isoformat()} ({sla.policy_name})",
                                     "lead": sla.lead_id, "policy": sla.policy_name, "phase": sla.phase,
                                     "chain": chain, "due": row.due_at.isoformat(),
                                     "pipeline_review": chain == SlaStep.StopsOn.OPPORTUNITY},
                         "dedupe_key": f"sla.breached:{sla_id}:{chain}"})

    # Final states: one statement each, whatever the batch size.
    if fire:
        SlaStep.objects.filter(pk__in=[r.pk for r in fire]).update(
            fired_at=now,
            # Cast: PostgreSQL types a CASE of only NULLs as text.
            to=Cast(Case(*[When(pk=r.pk, then=Value(r.to.pk if r.to else None)) for r in fire],
                         default=Value(None), output_field=IntegerField()), IntegerField()),
            note=Case(*[When(pk=r.pk, then=Value(r.note)) for r in fire], default=Value("")),
        )
    if skipped:
        SlaStep.objects.filter(pk__in=[r.pk for r in skipped]).update(
            status=SlaStep.Status.SKIPPED, fired_at=now, note="a later step was already due")
    if cancelled:
        SlaStep.objects.filter(pk__in=[r.pk for r in cancelled]).update(
            status=SlaStep.Status.CANCELLED, note="contacted, decided or superseded")
    if breached_sla_ids:
        LeadSla.objects.filter(pk__in=breached_sla_ids, breached_at__isnull=True).update(
            breached_at=F("first_contact_due"))
    if sql_breached_at:
        LeadSla.objects.filter(pk__in=list(sql_breached_at), breached_at__isnull=True).update(
            breached_at=Case(*[When(pk=pk, then=Value(at)) for pk, at in sql_breached_at.items()]))
    if review_sla_ids:
        # The seed's "pipeline review flag": recorded on the clock, at the opportunity deadline.
        LeadSla.objects.filter(pk__in=review_sla_ids, pipeline_review_at__isnull=True).update(
            pipeline_review_at=F("opportunity_due"))
    result.fired, result.skipped, result.cancelled = len(fire), len(skipped), len(cancelled)
    _enqueue_on_commit(messages)


def _still_due(row: SlaStep) -> bool:
    """Whether a claimed step still applies: its clock is live, the lead is still in its phase and the
    step's chain was not stopped (first contact, discovery call, opportunity)."""
    sla, lead = row.sla, row.lead
    if not sla.is_current or sla.closed_at is not None:
        return False
    if sla.phase == Phase.SQL:
        if lead.lifecycle_stage != Lead.Stage.SQL:
            return False
        if row.stops_on == SlaStep.StopsOn.DISCOVERY_CALL:
            return sla.discovery_at is None
        if row.stops_on == SlaStep.StopsOn.OPPORTUNITY:
            return sla.opportunity_at is None
        return True
    if lead.lifecycle_stage != Lead.Stage.MQL:
        return False
    return not (row.stops_on == SlaStep.StopsOn.FIRST_CONTACT and sla.first_contact_at is not None)


def _deadline_text(row: SlaStep) -> str:
    sla = row.sla
    if sla.phase == Phase.SQL:
        due = sla.opportunity_due if row.stops_on == SlaStep.StopsOn.OPPORTUNITY else sla.discovery_due
        what = "opportunity" if row.stops_on == SlaStep.StopsOn.OPPORTUNITY else "discovery call"
        return f"{what} due {due.isoformat() if due else 'n/a'}"
    return f"first contact due {sla.first_contact_due.isoformat()}"


def _reassign_batch(*, rows: list[SlaStep], now: dt.datetime) -> dict[int, object]:
    """Round-robin every lead of ``rows`` to another rep of its team (every team when it has none).

    Set-based: one lock of the candidate reps (pk order), one count query, then bulk writes.
    Returns ``{lead_id: new owner user or None}``.
    """
    User = get_user_model()
    team_ids = {r.sla.team_id for r in rows}
    scoped_all = None in team_ids
    pool = selectors.pool_queryset(team_ids=None if scoped_all else team_ids)
    locked = list(pool.order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True))
    since = engine.period_start(now, DEFAULT_PERIOD)
    candidates = selectors.pool_candidates(since=since, rep_ids=locked, team_ids=None if scoped_all else team_ids)
    team_of = dict(Rep.objects.filter(pk__in=locked).values_list("pk", "team_id")) if locked else {}
    load = {c.rep_id: c for c in candidates}

    chosen: dict[int, int | None] = {}
    for row in rows:
        pool_ids = [rid for rid in load if rid != row.lead.owner_id
                    and (row.sla.team_id is None or team_of.get(rid) == row.sla.team_id)]
        winner = engine.pick_round_robin([load[rid] for rid in pool_ids], quota_bonus=DEFAULT_QUOTA_BONUS)
        chosen[row.lead_id] = winner.rep_id if winner else None
        if winner:
            # Count this assignment before choosing the next lead, so the batch itself stays fair.
            load[winner.rep_id] = engine.Candidate(winner.rep_id, winner.assignments_in_period + 1,
                                                   winner.below_quota, now)
    moved = {lead_id: rep_id for lead_id, rep_id in chosen.items() if rep_id is not None}
    if not moved:
        return {lead_id: None for lead_id in chosen}
    users = User.objects.in_bulk(list(set(moved.values())))
    rows_by_lead = {r.lead_id: r for r in rows}

    Assignment.objects.filter(lead_id__in=list(moved), is_current=True).update(is_current=False)
    Assignment.objects.bulk_create([
        Assignment(lead_id=lead_id, rep_id=rep_id, team_id=team_of.get(rep_id), rule="sla_reassign",
                   reason=f"no first contact by the {rows_by_lead[lead_id].sla.policy_name} deadline: "
                          "reassigned by round-robin",
                   skipped=[], policy=rows_by_lead[lead_id].sla.policy_name, trigger="sla_reassign",
                   mql_at=rows_by_lead[lead_id].lead.mql_at)
        for lead_id, rep_id in moved.items()
    ])
    leads = []
    for lead_id, rep_id in moved.items():
        lead = rows_by_lead[lead_id].lead
        lead.owner_id = rep_id
        leads.append(lead)
    bulk_update_with_history(leads, Lead, ["owner"], default_change_reason="SLA reassign by round-robin",
                             default_date=now)
    LeadSla.objects.filter(pk__in=[rows_by_lead[lid].sla_id for lid in moved]).update(
        owner=Case(*[When(lead_id=lid, then=Value(rid)) for lid, rid in moved.items()], output_field=IntegerField()))
    Task.objects.filter(lead_id__in=list(moved), kind=Task.Kind.FIRST_CONTACT, completed_at__isnull=True).update(
        owner=Case(*[When(lead_id=lid, then=Value(rid)) for lid, rid in moved.items()], output_field=IntegerField()))
    Rep.objects.filter(pk__in=set(moved.values())).update(last_assigned_at=now)
    return {lead_id: users.get(rep_id) if rep_id else None for lead_id, rep_id in chosen.items()}
