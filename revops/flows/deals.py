"""Deal stage moves that cross apps: closing a deal hands its people over (SPEC §7).

* Closed Won: the deal's contacts become customers (lead lifecycle ``win``), nurture stops,
  a customer-success owner is picked (territory of the account, then the lead's segment as a
  team name, then the least-loaded CS rep), a kickoff task is due in 2 business days of the CS
  rep's team calendar, and a webhook fires.
* Closed Lost: loss reason (and the competitor, when lost to one) required; the contacts go
  to ``recycled`` with that reason; the owner gets a post-mortem task.

Everything runs in the transaction of the stage move; notifications go out after commit.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django_fsm import can_proceed

from leads.models import Lead, NurtureEnrollment
from leads.services import enqueue_on_commit, lead_transition, nurture_set_state
from pipeline.models import Deal, Task
from pipeline.services import deal_set_cs_owner, deal_transition, task_create_once
from routing import engine as routing_engine
from routing import selectors as routing_selectors
from routing.calendar import BusinessCalendar, add_business_time
from routing.models import Rep

KICKOFF_BUSINESS_DAYS = 2
POST_MORTEM_BUSINESS_DAYS = 5


def deal_move(*, deal: Deal, to: str, actor=None, reason: str = "", fields: dict | None = None, at=None) -> Deal:
    """The one entry point for a stage change from the API / UI: closing runs the handoff."""
    if to == Deal.Stage.CLOSED_WON:
        return deal_close_won(deal=deal, actor=actor, reason=reason, fields=fields, at=at)
    if to == Deal.Stage.CLOSED_LOST:
        return deal_close_lost(deal=deal, actor=actor, reason=reason, fields=fields, at=at)
    return deal_transition(deal=deal, to=to, actor=actor, reason=reason, fields=fields, at=at)


def deal_contacts(deal: Deal) -> list[Lead]:
    """The deal's lead plus the other contacts on it, each once."""
    people = {c.pk: c for c in deal.contacts.all()}
    if deal.lead_id:
        people.setdefault(deal.lead_id, deal.lead)
    return [people[pk] for pk in sorted(people)]


def _business_days(start: dt.datetime, days: int, team) -> dt.datetime:
    calendar = BusinessCalendar.for_team(team)
    opening = dt.datetime.combine(dt.date(2000, 1, 3), calendar.work_start)
    closing = dt.datetime.combine(dt.date(2000, 1, 3), calendar.work_end)
    # N business days = N full working days of that team's calendar, counted in business time.
    return add_business_time(start, (closing - opening) * days, calendar)


def _account_territories(account) -> list[int]:
    """Territories matching the account (highest priority first), by routing's one pure matcher."""
    if account is None:
        return []
    facts = routing_engine.LeadFacts(lead_id=None, employees=account.employees, industry=account.industry or "",
                                     country=account.country or "", state=account.state or "")
    territories = sorted(routing_selectors.territory_facts(), key=lambda t: (-t.priority, t.name))
    return [t.id for t in territories if routing_engine.territory_matches(t, facts)]


def pick_cs_owner(*, deal: Deal) -> Rep | None:
    """A customer-success rep for a won deal: territory of the account > segment team > least loaded.

    Only active CS reps not on PTO. Ties go to the fewest open kickoff tasks, then the longest
    since their last assignment.
    """
    pool = (Rep.objects.filter(role=Rep.Role.CS, active=True, on_pto=False)
            .select_related("user", "team")
            .annotate(load=Count("user__tasks", filter=Q(user__tasks__kind=Task.Kind.KICKOFF,
                                                         user__tasks__completed_at__isnull=True))))

    def least_loaded(reps):
        reps = list(reps)
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        reps.sort(key=lambda r: (r.load, r.last_assigned_at or epoch, r.pk))
        return reps[0] if reps else None

    for territory_id in _account_territories(deal.account):
        chosen = least_loaded(pool.filter(territories=territory_id))
        if chosen is not None:
            return chosen
    segment = deal.lead.segment if deal.lead_id else ""
    if segment and segment != "default":
        chosen = least_loaded(pool.filter(team__name__iexact=segment))
        if chosen is not None:
            return chosen
    return least_loaded(pool)


@transaction.atomic
def deal_close_won(*, deal: Deal, actor=None, reason: str = "", fields: dict | None = None, at=None) -> Deal:
    """Close a deal won and hand the customer to customer success (see module docstring)."""
    at = at or timezone.now()
    deal_transition(deal=deal, to=Deal.Stage.CLOSED_WON, actor=actor, reason=reason, fields=fields, at=at)
    customers = []
    for contact in deal_contacts(deal):
        if contact.lifecycle_stage == Lead.Stage.OPPORTUNITY and can_proceed(contact.win):
            lead_transition(lead=contact, transition="win", actor=actor, reason=f"deal {deal.pk} closed won",
                            at=at, deal_stage=deal.stage)
            customers.append(contact.pk)
        # Nurture stops for every contact of a customer, whatever their own stage.
        nurture_set_state(lead=contact, state=NurtureEnrollment.State.STOPPED, actor=actor)

    cs_rep = pick_cs_owner(deal=deal)
    task = None
    if cs_rep is not None:
        deal_set_cs_owner(deal=deal, cs_owner=cs_rep.user, actor=actor)
        Rep.objects.filter(pk=cs_rep.pk).update(last_assigned_at=at)
        due = _business_days(at, KICKOFF_BUSINESS_DAYS, cs_rep.team)
        task = task_create_once(kind=Task.Kind.KICKOFF, title=f"Customer kickoff: {deal.name}",
                                owner_id=cs_rep.pk, due_at=due, dedupe_key=f"deal:{deal.pk}:kickoff",
                                deal=deal, lead=deal.lead)
        if cs_rep.user.email:
            enqueue_on_commit("revops.notifications.send_email", to=cs_rep.user.email,
                              subject=f"New customer: {deal.name}",
                              body=f"You own the onboarding of {deal.name}. Kickoff due {due:%Y-%m-%d %H:%M %Z}.",
                              event="deal.cs_handoff", dedupe_key=f"deal:{deal.pk}:cs_handoff")
    enqueue_on_commit("revops.notifications.send_webhook", event="deal.closed_won",
                      payload={"deal": deal.pk, "name": deal.name, "amount": str(deal.amount),
                               "account": deal.account_id, "owner": deal.owner_id,
                               "cs_owner": cs_rep.pk if cs_rep else None, "customers": customers,
                               "kickoff_task": task.pk if task else None,
                               "kickoff_due": task.due_at.isoformat() if task and task.due_at else None},
                      dedupe_key=f"deal:{deal.pk}:closed_won")
    return deal


@transaction.atomic
def deal_close_lost(*, deal: Deal, actor=None, reason: str = "", fields: dict | None = None, at=None) -> Deal:
    """Close a deal lost: contacts in ``opportunity`` go to ``recycled`` with the loss reason; post-mortem task."""
    at = at or timezone.now()
    deal_transition(deal=deal, to=Deal.Stage.CLOSED_LOST, actor=actor, reason=reason, fields=fields, at=at)
    loss = deal.loss_reason + (f" (competitor: {deal.competitor})" if deal.competitor else "")
    recycled = []
    for contact in deal_contacts(deal):
        if contact.lifecycle_stage == Lead.Stage.OPPORTUNITY and can_proceed(contact.lose):
            lead_transition(lead=contact, transition="lose", actor=actor, reason=f"deal {deal.pk} lost: {loss}",
                            at=at, loss_reason=loss)
            recycled.append(contact.pk)
    team = getattr(getattr(deal.owner, "rep", None), "team", None) if deal.owner_id else None
    task = None
    if deal.owner_id:
        task = task_create_once(kind=Task.Kind.POST_MORTEM, title=f"Log post-mortem: {deal.name} ({loss})",
                                owner_id=deal.owner_id, due_at=_business_days(at, POST_MORTEM_BUSINESS_DAYS, team),
                                dedupe_key=f"deal:{deal.pk}:post_mortem", deal=deal, lead=deal.lead)
    enqueue_on_commit("revops.notifications.send_webhook", event="deal.closed_lost",
                      payload={"deal": deal.pk, "name": deal.name, "loss_reason": deal.loss_reason,
                               "competitor": deal.competitor, "recycled": recycled,
                               "post_mortem_task": task.pk if task else None},
                      dedupe_key=f"deal:{deal.pk}:closed_lost")
    return deal
