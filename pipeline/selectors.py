"""Read use-cases for deals: permission-scoped lists, time in stage, historical averages, pipeline metrics.

Every aggregate is one set-based query over DealStageChange / Deal (no per-deal loops).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from leads import access

from .models import OPEN_ORDER, Approval, Deal, DealStageChange


def deal_list_for(*, user) -> QuerySet[Deal]:
    """Deals the user may see (own, the team's for managers, all for admins), newest first."""
    return access.restrict_by_owner(Deal.objects.all(), user).order_by("-created_at", "-id")


def deal_get_for(*, user, deal_id) -> Deal:
    """The deal, 404 when unknown, PermissionDenied (403) when it is not the user's to see."""
    deal = get_object_or_404(Deal, pk=deal_id)
    if not deal_list_for(user=user).filter(pk=deal.pk).exists():
        raise PermissionDenied("You may not see this deal.")
    return deal


def deal_get_for_approver(*, user, deal_id) -> Deal:
    """A deal for an approve / reject call: visible to its owners or to anyone in an approver role.

    The role check for the specific approval happens in the service (403 there).
    """
    deal = get_object_or_404(Deal, pk=deal_id)
    if deal_list_for(user=user).filter(pk=deal.pk).exists() or is_approver(user=user):
        return deal
    raise PermissionDenied("You may not see this deal.")


def is_approver(*, user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    rep = access.rep_of(user)
    if rep is not None and rep.role == "manager":
        return True
    return user.groups.filter(name__in=list(Approval.APPROVER_ROLE.values())).exists()


def time_in_stage(*, deal: Deal, now=None) -> dt.timedelta:
    now = now or timezone.now()
    entered = deal.stage_entered_at or deal.created_at
    end = deal.closed_at if deal.stage in Deal.CLOSED and deal.closed_at else now
    return max(end - entered, dt.timedelta(0)) if entered else dt.timedelta(0)


def stage_average_seconds(*, since=None) -> dict[str, float]:
    """Historical average time in each stage from finished stints: one GROUP BY query."""
    rows = DealStageChange.objects.filter(left_at__isnull=False, duration_seconds__isnull=False)
    if since is not None:
        rows = rows.filter(left_at__gte=since)
    return {r["stage"]: float(r["avg"]) for r in rows.values("stage").annotate(avg=Avg("duration_seconds"))}


def approvals_for(*, deal: Deal) -> QuerySet[Approval]:
    return deal.approvals.select_related("requested_by", "decided_by").order_by("created_at", "id")


def exception_report(*, since=None, limit: int = 20) -> dict:
    """The most requested exceptions (seed 001: "if everyone asks for the same exception, it should
    become standard"): counts by kind and by the exact request text, with approval outcomes."""
    rows = Approval.objects.exclude(state=Approval.State.SUPERSEDED)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    outcome = {
        "count": Count("id"),
        "deals": Count("deal", distinct=True),
        "approved": Count("id", filter=Q(state=Approval.State.APPROVED)),
        "rejected": Count("id", filter=Q(state=Approval.State.REJECTED)),
        "pending": Count("id", filter=Q(state=Approval.State.PENDING)),
    }
    by_kind = list(rows.values("exception").annotate(**outcome).order_by("-count", "exception"))
    by_text = list(rows.values("exception", "exception_text").annotate(**outcome)
                   .order_by("-count", "exception", "exception_text")[:limit])
    by_tier = list(rows.values("tier").annotate(**outcome).order_by("-count", "tier"))
    return {"by_exception": by_kind, "top_requests": by_text, "by_tier": by_tier}


def pipeline_metrics(*, start: dt.date | None = None, end: dt.date | None = None,
                     quota: Decimal | None = None, user=None) -> dict:
    """Stage conversion, average time in stage, velocity, coverage and win rate by source.

    Velocity = (open deals x average deal size x win rate) / average sales cycle in days, over deals
    closed in the range. Coverage = open pipeline / ``quota`` (when given; target 3-4x).
    """
    deals = Deal.objects.all() if user is None else deal_list_for(user=user)
    stints = DealStageChange.objects.filter(deal__in=deals.values("pk"))
    closed = deals.filter(stage__in=Deal.CLOSED, closed_at__isnull=False)
    if start:
        closed = closed.filter(closed_at__date__gte=start)
        stints = stints.filter(entered_at__date__gte=start)
    if end:
        closed = closed.filter(closed_at__date__lte=end)
        stints = stints.filter(entered_at__date__lte=end)

    reached = dict(stints.values("stage").annotate(n=Count("deal", distinct=True)).values_list("stage", "n"))
    conversion = []
    sequence = [*OPEN_ORDER, "closed_won"]
    for here, there in zip(sequence, sequence[1:], strict=False):
        entered = reached.get(here, 0)
        conversion.append({"from": here, "to": there, "entered": entered, "reached_next": reached.get(there, 0),
                           "rate": round(reached.get(there, 0) / entered, 4) if entered else None})
    averages = stints.filter(duration_seconds__isnull=False).values("stage").annotate(avg=Avg("duration_seconds"))
    avg_days = {r["stage"]: round(float(r["avg"]) / 86400, 2) for r in averages}

    totals = closed.aggregate(
        won=Count("id", filter=Q(stage=Deal.Stage.CLOSED_WON)), n=Count("id"),
        won_amount=Sum("amount", filter=Q(stage=Deal.Stage.CLOSED_WON)),
        avg_won=Avg("amount", filter=Q(stage=Deal.Stage.CLOSED_WON)),
    )
    cycle = closed.filter(stage=Deal.Stage.CLOSED_WON).aggregate(
        avg=Avg(ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())))["avg"]
    avg_cycle = cycle.total_seconds() / 86400 if cycle else None
    open_deals = deals.open().aggregate(n=Count("id"), value=Sum("amount"))
    win_rate = totals["won"] / totals["n"] if totals["n"] else None
    velocity = None
    if win_rate is not None and avg_cycle and totals["avg_won"] is not None:
        velocity = round(float(open_deals["n"]) * float(totals["avg_won"]) * win_rate / avg_cycle, 2)
    by_source = [
        {"source": r["source"] or "", "closed": r["n"], "won": r["won"],
         "win_rate": round(r["won"] / r["n"], 4) if r["n"] else None}
        for r in closed.values("source").annotate(n=Count("id"), won=Count("id", filter=Q(
            stage=Deal.Stage.CLOSED_WON))).order_by("-n", "source")
    ]
    pipeline_value = open_deals["value"] or Decimal(0)
    return {
        "stage_conversion": conversion,
        "average_days_in_stage": avg_days,
        "open_deals": open_deals["n"],
        "pipeline_value": str(pipeline_value),
        "won": totals["won"],
        "closed": totals["n"],
        "win_rate": round(win_rate, 4) if win_rate is not None else None,
        "average_won_amount": str(round(totals["avg_won"], 2)) if totals["avg_won"] is not None else None,
        "average_cycle_days": round(avg_cycle, 2) if avg_cycle else None,
        "velocity_per_day": velocity,
        "coverage": round(float(pipeline_value) / float(quota), 2) if quota else None,
        "win_rate_by_source": by_source,
    }


def approvals_decidable_by(*, user) -> QuerySet[Approval]:
    """Pending approvals ``user`` may decide, in one query: the set form of ``services.can_decide``."""
    pending = Approval.objects.filter(state=Approval.State.PENDING)
    if user is None or not user.is_authenticated or not user.is_active:
        return pending.none()
    if user.is_superuser:
        return pending
    groups = set(user.groups.values_list("name", flat=True))
    allowed = Q(pk__in=[])
    tiers = [tier for tier, role in Approval.APPROVER_ROLE.items() if tier != Approval.Tier.MANAGER and role in groups]
    if tiers:
        allowed |= Q(tier__in=tiers)
    if "VP Sales" in groups:
        allowed |= Q(tier=Approval.Tier.MANAGER)
    rep = access.rep_of(user)
    if rep is not None and rep.active and rep.role == "manager":
        mine = Q(deal__owner__rep__manager_id=rep.pk)
        if rep.team_id is not None:
            mine |= Q(deal__owner__rep__team_id=rep.team_id)
        allowed |= Q(tier=Approval.Tier.MANAGER) & mine
    return pending.filter(allowed)
