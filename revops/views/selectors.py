"""Read helpers of the web app that span apps (queue with SLA deadlines, board, tasks, inbox).

Each returns a queryset or a small dict built from a fixed number of queries.
"""

from __future__ import annotations

from django.db.models import DateTimeField, F, OuterRef, Subquery
from django.utils import timezone

from leads.filters import LeadFilterSet
from leads.models import Lead
from revops.metrics import visible_deals, visible_leads

QUEUE_DEFAULT_STAGE = Lead.Stage.MQL
NEAR_BREACH_SECONDS = 30 * 60


def with_sla_deadline(queryset):
    """THE place the queue learns each lead's first-contact deadline (swap it here if the SLA model moves).

    Annotates ``sla_due`` (``routing.LeadSla.first_contact_due`` of the current SLA clock),
    ``sla_contacted_at`` and ``sla_breached_at`` with correlated subqueries, then orders by the
    deadline (leads without an SLA clock last, by MQL time).
    """
    from routing.models import LeadSla

    current = LeadSla.objects.filter(lead=OuterRef("pk"), is_current=True).order_by("-started_at")
    return queryset.annotate(
        sla_due=Subquery(current.values("first_contact_due")[:1], output_field=DateTimeField()),
        sla_contacted_at=Subquery(current.values("first_contact_at")[:1], output_field=DateTimeField()),
        sla_breached_at=Subquery(current.values("breached_at")[:1], output_field=DateTimeField()),
    ).order_by(F("sla_due").asc(nulls_last=True), F("mql_at").asc(nulls_last=True), "id")


def queue_for(*, user, data) -> tuple[LeadFilterSet, object]:
    """The user's queue: owned MQLs and the team's unowned queue (``leads.access``), filtered by the
    shared LeadFilterSet (stage defaults to MQL), ordered by first-contact deadline."""
    data = data.copy()
    if not data.get("lifecycle_stage"):
        data["lifecycle_stage"] = QUEUE_DEFAULT_STAGE
    base = visible_leads(user).select_related("account", "owner")
    filterset = LeadFilterSet(data, queryset=base)
    queryset = filterset.qs if filterset.is_valid() else base.filter(lifecycle_stage=QUEUE_DEFAULT_STAGE)
    return filterset, with_sla_deadline(queryset)


def sla_state(*, due, contacted_at=None, breached_at=None, now=None) -> str:
    """``contacted`` / ``breached`` / ``near`` / ``ok`` / ``none`` for a deadline."""
    if due is None:
        return "none"
    if contacted_at is not None:
        return "contacted"
    now = now or timezone.now()
    if breached_at is not None or due <= now:
        return "breached"
    if (due - now).total_seconds() <= NEAR_BREACH_SECONDS:
        return "near"
    return "ok"


def tasks_for(*, user, include_done: bool = False):
    from leads import access
    from pipeline.models import Task

    tasks = access.restrict_by_owner(Task.objects.all(), user).filter(owner=user)
    if not include_done:
        tasks = tasks.open()
    return tasks.select_related("lead", "deal").order_by(F("due_at").asc(nulls_last=True), "id")


BOARD_COLUMN_LIMIT = 50


def board_for(*, user) -> list[dict]:
    """Deal board columns: open stages with up to 50 cards each, plus recently closed deals.

    One aggregate query for the column totals and one query per column (a fixed number).
    """
    from django.db.models import Count, Sum

    from pipeline.models import Deal

    deals = visible_deals(user)
    totals = {r["stage"]: r for r in deals.values("stage").annotate(n=Count("id"), value=Sum("amount"))
              .order_by("stage")}
    now = timezone.now()
    recent = now - timezone.timedelta(days=30)
    columns = []
    for stage, label in Deal.Stage.choices:
        rows = deals.filter(stage=stage)
        if stage in Deal.CLOSED:
            rows = rows.filter(closed_at__gte=recent)
        cards = list(rows.select_related("owner", "account").order_by("close_date", "id")[:BOARD_COLUMN_LIMIT])
        for card in cards:
            entered = card.stage_entered_at or card.created_at
            card.days_in_stage = (now - entered).days if entered else 0
        total = totals.get(stage, {})
        columns.append({"stage": stage, "label": label, "cards": cards, "count": total.get("n", 0),
                        "value": total.get("value") or 0, "closed": stage in Deal.CLOSED})
    return columns


def approvals_inbox_for(*, user, limit: int = 100) -> list:
    """Pending approvals this user may decide, oldest first (one query whatever their number)."""
    from pipeline.selectors import approvals_decidable_by

    return list(approvals_decidable_by(user=user).select_related("deal", "deal__owner", "requested_by")
                .order_by("created_at", "id")[:limit])
