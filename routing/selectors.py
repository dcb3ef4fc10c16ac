"""Read use-cases of routing: facts for the engine, eligible pools, a lead's routing and SLA, speed-to-lead."""

from __future__ import annotations

import datetime as dt

from django.db.models import Avg, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, ExtractHour

from leads import access
from leads.models import EngagementEvent, Lead
from pipeline.models import Deal

from . import engine
from .models import Assignment, LeadSla, Rep, RoutingStep, SlaPolicy, SlaStep, Territory

# Roles that never draw leads from a round-robin pool: managers supervise, CS works customers.
NON_SELLING_ROLES = (Rep.Role.MANAGER, Rep.Role.CS)


def open_mql_count_subquery():
    """Open MQLs owned by the rep (the capacity measure), as a correlated subquery."""
    return Coalesce(
        Subquery(
            Lead.objects.filter(owner_id=OuterRef("user_id"), lifecycle_stage=Lead.Stage.MQL)
            .order_by()
            .values("owner_id")
            .annotate(n=Count("id"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


def rep_facts(*, rep_ids=None) -> dict[int, engine.RepFacts]:
    """Availability of reps (all, or ``rep_ids``): active, not on PTO, below capacity — one query."""
    queryset = Rep.objects.annotate(open_mqls=open_mql_count_subquery())
    if rep_ids is not None:
        queryset = queryset.filter(pk__in=[r for r in rep_ids if r is not None])
    facts = {}
    for rep in queryset.values("user_id", "team_id", "role", "active", "on_pto", "capacity", "open_mqls",
                               "backup_id"):
        why = ""
        if not rep["active"]:
            why = "is inactive"
        elif rep["on_pto"]:
            why = "is on PTO"
        elif rep["open_mqls"] >= rep["capacity"]:
            why = f"is at capacity ({rep['open_mqls']}/{rep['capacity']} open MQLs)"
        facts[rep["user_id"]] = engine.RepFacts(rep["user_id"], rep["team_id"], rep["role"], not why,
                                                rep["backup_id"], why)
    return facts


def routing_steps() -> list[engine.StepFacts]:
    return [
        engine.StepFacts(s.pk, s.name, s.kind, s.conditions or {}, s.team_id, s.role or "", s.policy_id)
        for s in RoutingStep.objects.filter(active=True).order_by("order", "id")
    ]


def territory_facts() -> list[engine.TerritoryFacts]:
    return [
        engine.TerritoryFacts(t.pk, t.name, t.priority, tuple(t.countries or ()), tuple(t.states or ()),
                              t.min_employees, t.max_employees, tuple(t.industries or ()), t.team_id, t.owner_id)
        for t in Territory.objects.all()
    ]


def lead_facts(*, lead: Lead, trigger: str = "") -> engine.LeadFacts:
    account = lead.account
    deal_owner = None
    if lead.account_id or lead.pk:
        deals = Deal.objects.open().filter(owner__isnull=False)
        deal_filter = Q(lead_id=lead.pk) if lead.pk else Q()
        if lead.account_id:
            deal_filter |= Q(account_id=lead.account_id)
        deal_owner = deals.filter(deal_filter).order_by("-created_at").values_list("owner_id", flat=True).first()
    events = frozenset(
        EngagementEvent.objects.filter(lead_id=lead.pk).values_list("type", flat=True).distinct()
    ) if lead.pk else frozenset()
    if trigger:
        events |= {trigger}
    return engine.LeadFacts(
        lead_id=lead.pk,
        segment=lead.segment or "default",
        abm_tier=account.abm_tier if account else 0,
        account_owner_id=account.owner_id if account else None,
        open_deal_owner_id=deal_owner,
        employees=account.employees if account else None,
        industry=account.industry if account else "",
        country=account.country if account else "",
        state=account.state if account else "",
        event_types=events,
        trigger=trigger,
    )


def pool_queryset(*, team_ids=None, role: str | tuple[str, ...] = "", exclude_rep_ids=()) -> QuerySet[Rep]:
    """Eligible reps of a round-robin pool: active, not on PTO, below capacity, in the teams (None = all);
    ``role`` is one role or a tuple of roles (empty = every selling role)."""
    queryset = (
        Rep.objects.filter(active=True, on_pto=False)
        .exclude(role__in=NON_SELLING_ROLES)
        .annotate(open_mqls=open_mql_count_subquery())
        .filter(open_mqls__lt=F("capacity"))
    )
    if team_ids is not None:
        queryset = queryset.filter(team_id__in=team_ids)
    if isinstance(role, tuple | list | set | frozenset):
        if role:
            queryset = queryset.filter(role__in=list(role))
    elif role:
        queryset = queryset.filter(role=role)
    if exclude_rep_ids:
        queryset = queryset.exclude(pk__in=list(exclude_rep_ids))
    return queryset


def pool_candidates(*, team_ids=None, role: str | tuple[str, ...] = "", since: dt.datetime, exclude_rep_ids=(),
                    rep_ids=None) -> list[engine.Candidate]:
    """Round-robin candidates with their assignment count in the period — one aggregate query."""
    queryset = pool_queryset(team_ids=team_ids, role=role, exclude_rep_ids=exclude_rep_ids)
    if rep_ids is not None:
        queryset = queryset.filter(pk__in=rep_ids)
    rows = queryset.annotate(
        recent=Coalesce(
            Subquery(
                Assignment.objects.filter(rep_id=OuterRef("user_id"), created_at__gte=since)
                .order_by()
                .values("rep_id")
                .annotate(n=Count("id"))
                .values("n")[:1],
                output_field=IntegerField(),
            ),
            Value(0),
        )
    ).values("user_id", "recent", "quota_attainment", "last_assigned_at")
    return [
        engine.Candidate(r["user_id"], r["recent"], r["quota_attainment"] < 1, r["last_assigned_at"]) for r in rows
    ]


def sla_policy_for(*, abm_tier: int, segment: str, trigger: str, for_queue: bool = False,
                   forced_policy_id: int | None = None, phase: str = SlaPolicy.Phase.MQL) -> SlaPolicy | None:
    """The active policy of ``phase`` with the highest priority whose non-empty selectors all match."""
    policies = list(SlaPolicy.objects.filter(active=True, phase=phase).order_by("-priority", "id"))
    if forced_policy_id:
        for policy in policies:
            if policy.pk == forced_policy_id:
                return policy
    for policy in policies:
        if policy.for_queue != for_queue:
            continue
        if policy.abm_tiers and abm_tier not in policy.abm_tiers:
            continue
        if policy.segments and segment not in policy.segments:
            continue
        if policy.triggers and trigger not in policy.triggers:
            continue
        return policy
    return None


def lead_assignments(*, lead: Lead) -> QuerySet[Assignment]:
    return Assignment.objects.filter(lead=lead).select_related("rep__user", "team").order_by("-created_at", "-id")


def lead_sla_current(*, lead: Lead, phase: str = SlaPolicy.Phase.MQL) -> LeadSla | None:
    """The live clock of one phase: the MQL handoff (API.md ``/sla/``) or ``sql`` (discovery, opportunity)."""
    return LeadSla.objects.filter(lead=lead, is_current=True, phase=phase).select_related("policy").first()


def lead_sla_escalations(*, sla: LeadSla) -> QuerySet[SlaStep]:
    return sla.steps.filter(status=SlaStep.Status.FIRED).select_related("to").order_by("fired_at", "index")


def speed_to_lead(*, user, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict:
    """Speed-to-lead for handoffs whose MQL falls in ``[start, end)``, limited to what ``user`` may see.

    ``count`` / mean / median are over contacted leads (MQL -> first contact, wall minutes).
    ``within_sla_share`` = contacted by the due time / (contacted + not contacted and already overdue).
    Set-based: aggregates and one ordered slice for the median, whatever the number of leads.
    """
    base = access.restrict_by_owner(LeadSla.objects.filter(phase=SlaPolicy.Phase.MQL), user,
                                    owner_field="owner").filter(started_at__gte=start, started_at__lt=end)
    contacted = base.filter(first_contact_at__isnull=False, response_seconds__isnull=False)
    totals = base.aggregate(
        count=Count("id", filter=Q(first_contact_at__isnull=False, response_seconds__isnull=False)),
        mean=Avg("response_seconds", filter=Q(response_seconds__isnull=False)),
        within=Count("id", filter=Q(first_contact_at__isnull=False, first_contact_at__lte=F("first_contact_due"))),
        measured=Count("id", filter=Q(first_contact_at__isnull=False) | Q(first_contact_due__lte=now)),
    )
    count = totals["count"]
    median = None
    if count:
        ordered = list(contacted.order_by("response_seconds").values_list("response_seconds", flat=True)[
            (count - 1) // 2: count // 2 + 1])
        median = sum(ordered) / len(ordered) / 60
    by_rep = [
        {"rep": row["owner_id"], "count": row["n"], "mean_minutes": _minutes(row["mean"])}
        for row in contacted.order_by().values("owner_id").annotate(n=Count("id"), mean=Avg("response_seconds"))
        .order_by("owner_id")
    ]
    by_hour = [
        {"hour": row["hour"], "count": row["n"], "mean_minutes": _minutes(row["mean"])}
        for row in contacted.order_by().annotate(hour=ExtractHour("started_at")).values("hour")
        .annotate(n=Count("id"), mean=Avg("response_seconds")).order_by("hour")
    ]
    return {
        "count": count,
        "mean_minutes": _minutes(totals["mean"]),
        "median_minutes": round(median, 2) if median is not None else None,
        "within_sla_share": round(totals["within"] / totals["measured"], 4) if totals["measured"] else None,
        "by_rep": by_rep,
        "by_hour": by_hour,
    }


def _minutes(seconds) -> float | None:
    return round(float(seconds) / 60, 2) if seconds is not None else None
