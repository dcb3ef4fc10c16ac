"""Read use-cases of scoring: active models, the events a score can still read, leads of a segment."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet

from leads.models import EngagementEvent, Lead
from pipeline.models import Deal

from . import engine
from .models import DEFAULT_SEGMENT, RescoreJob, ScoreChange, ScoringModel


def scoring_model_list() -> QuerySet[ScoringModel]:
    return ScoringModel.objects.select_related("approved_by").order_by("segment", "name", "-version")


def active_models() -> dict[str, ScoringModel]:
    """Active model per segment (one query)."""
    return {m.segment: m for m in ScoringModel.objects.active()}


def model_for_segment(segment: str, models: dict[str, ScoringModel] | None = None) -> ScoringModel | None:
    """The active model of ``segment``, else the active ``default`` one (API.md)."""
    models = active_models() if models is None else models
    return models.get(segment or DEFAULT_SEGMENT) or models.get(DEFAULT_SEGMENT)


def events_filter(model: dict, at, reset_at=None) -> Q | None:
    """The events a score at ``at`` can still read, as one Q over EngagementEvent (None = none needed).

    Per type: everything since the engagement reset for min_count, non-decaying and fast-track types;
    only the decay horizon (plus one cooldown) for decaying per-event rules; every type within the
    longest inactivity rule. See docs in ``engine.type_horizons``.
    """
    horizons = engine.type_horizons(model)
    unbounded = sorted(t for t, days in horizons.items() if days is None)
    parts = Q(type__in=unbounded) if unbounded else Q(pk__in=[])
    by_days: dict[float, list[str]] = {}
    for event_type, days in horizons.items():
        if days is not None:
            by_days.setdefault(days, []).append(event_type)
    for days, types in sorted(by_days.items()):
        parts |= Q(type__in=sorted(types), occurred_at__gte=at - timedelta(days=days))
    inactive = engine.inactivity_days(model)
    if inactive:
        parts |= Q(occurred_at__gte=at - timedelta(days=inactive))
    if not horizons and not inactive:
        return None
    query = parts & Q(occurred_at__lte=at)
    if reset_at is not None:
        query &= Q(occurred_at__gte=reset_at)
    return query


def events_for_leads(*, model: dict, leads: list[Lead], at) -> dict[int, list[tuple]]:
    """Engine-ready events ``(type, occurred_at, properties, id)`` per lead id, in ONE query.

    The engagement reset of each lead is applied by the engine; the query uses the earliest one.
    """
    result: dict[int, list[tuple]] = {lead.pk: [] for lead in leads}
    if not leads:
        return result
    query = events_filter(model, at)
    if query is None:
        return result
    rows = (EngagementEvent.objects.filter(query, lead_id__in=list(result))
            .order_by().values_list("lead_id", "type", "occurred_at", "properties", "id"))
    for lead_id, event_type, occurred_at, properties, event_id in rows:
        result[lead_id].append((event_type, occurred_at, properties, event_id))
    return result


def events_for_lead(*, model: dict, lead: Lead, at) -> list[tuple]:
    """The events one lead's score can read (one query whatever the history length)."""
    query = events_filter(model, at, lead.engagement_reset_at)
    if query is None:
        return []
    rows = (EngagementEvent.objects.filter(query, lead_id=lead.pk)
            .order_by().values_list("type", "occurred_at", "properties", "id"))
    return [tuple(row) for row in rows]


def deal_flags_for_leads(leads: list[Lead]) -> dict[int, set[str]]:
    """Per lead: ``active_deal`` (a deal of the lead not closed), ``customer`` (its account won a deal)."""
    flags: dict[int, set[str]] = {lead.pk: set() for lead in leads}
    if not leads:
        return flags
    lead_ids = [lead.pk for lead in leads]
    account_ids = {lead.account_id for lead in leads if lead.account_id}
    query = Q(lead_id__in=lead_ids) & ~Q(stage__in=Deal.CLOSED)
    if account_ids:
        query |= Q(account_id__in=account_ids, stage=Deal.Stage.CLOSED_WON)
    won_accounts: set[int] = set()
    for lead_id, account_id, stage in Deal.objects.filter(query).values_list("lead_id", "account_id", "stage"):
        if stage not in Deal.CLOSED and lead_id in flags:
            flags[lead_id].add("active_deal")
        if stage == Deal.Stage.CLOSED_WON and account_id:
            won_accounts.add(account_id)
    for lead in leads:
        if lead.account_id in won_accounts:
            flags[lead.pk].add("customer")
    return flags


def lead_ids_for_segment(segment: str, models: dict[str, ScoringModel] | None = None) -> QuerySet:
    """Ids of the leads a segment's active model scores (``default`` also takes segments without a model)."""
    models = active_models() if models is None else models
    if segment == DEFAULT_SEGMENT:
        others = [s for s in models if s != DEFAULT_SEGMENT]
        query = Lead.objects.exclude(segment__in=others)
    else:
        query = Lead.objects.filter(segment=segment)
    return query.order_by("pk").values_list("pk", flat=True)


def score_changes_for(*, lead: Lead) -> QuerySet[ScoreChange]:
    return ScoreChange.objects.filter(lead=lead).select_related("event", "scoring_model")


def rescore_job_get(*, job_id: int) -> RescoreJob:
    return RescoreJob.objects.get(pk=job_id)
