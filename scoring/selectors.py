"""Read use-cases of scoring: active models, the events a score can still read, leads of a segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import CharField, Exists, Func, OuterRef, Q, QuerySet

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


def events_for_lead(*, model: dict, lead: Lead, at) -> list[tuple]:
    """The events one lead's score can read (one query whatever the history length)."""
    query = events_filter(model, at, lead.engagement_reset_at)
    if query is None:
        return []
    rows = (EngagementEvent.objects.filter(query, lead_id=lead.pk).order_by().annotate(url=UrlProperty("properties"))
            .values_list("type", "occurred_at", "url", "id"))
    return [(event_type, occurred_at, {} if url is None else {"url": url}, event_id)
            for event_type, occurred_at, url, event_id in rows]


# What set-based scoring reads of a lead (plain values, no model instances), plus its account's attributes.
LEAD_ROW_FIELDS = (
    "id", "email", "title", "title_level", "department", "source", "segment", "email_domain_kind",
    "engagement_reset_at", "created_at", "lifecycle_stage", "do_not_contact", "opted_out", "hard_bounced",
    "spam_complaint", "last_engaged_at", "account_id", "fit_score", "engagement_score", "score", "score_breakdown",
    "scoring_model_version", "mql_criteria_met", "suppression_reason",
)
ACCOUNT_ROW_FIELDS = ("employees", "annual_revenue", "industry", "country", "state", "tech_tags")


def lead_rows(query: Q, *, lock: bool = False) -> list[dict]:
    """The leads matching ``query`` as plain dicts for set-based scoring, in ONE query, ordered by id.

    Each row carries the lead's scoring inputs and current scores, its account's attributes
    (``account``: a dict, empty without an account) and its deal flags (``deal_flags``: ``active_deal``
    when a deal of the lead is open, ``customer`` when its account won a deal) as EXISTS subqueries.
    ``lock`` takes the lead rows FOR UPDATE (in id order, so concurrent batches cannot deadlock).
    """
    queryset = (Lead.objects.filter(query).annotate(**deal_flag_annotations())
                .order_by("pk")
                .values(*LEAD_ROW_FIELDS, *(f"account__{name}" for name in ACCOUNT_ROW_FIELDS),
                        "has_open_deal", "account_won"))
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    rows = []
    for row in queryset:
        account = {name: row.pop(f"account__{name}") for name in ACCOUNT_ROW_FIELDS}
        row["account"] = account if row["account_id"] else {}
        flags = set()
        if row.pop("has_open_deal"):
            flags.add("active_deal")
        if row.pop("account_won"):
            flags.add("customer")
        row["deal_flags"] = flags
        rows.append(row)
    return rows


def deal_flag_annotations() -> dict:
    """``has_open_deal`` / ``account_won`` as EXISTS subqueries, so the lead query reads its deal flags too."""
    open_deal = Deal.objects.filter(lead_id=OuterRef("pk")).exclude(stage__in=Deal.CLOSED)
    won = Deal.objects.filter(account_id=OuterRef("account_id"), stage=Deal.Stage.CLOSED_WON)
    return {"has_open_deal": Exists(open_deal), "account_won": Exists(won)}


def deal_flags_annotated(lead: Lead) -> set[str] | None:
    """The deal flags of a lead loaded with ``deal_flag_annotations`` (None when it was not)."""
    if not hasattr(lead, "has_open_deal"):
        return None
    return ({"active_deal"} if lead.has_open_deal else set()) | ({"customer"} if lead.account_won else set())


def events_for_rows(*, groups: list[tuple[dict, list[int]]], at) -> dict[int, list[tuple]]:
    """Engine-ready events ``(type, occurred_at, properties, id)`` per lead id for several models, in ONE query.

    ``groups``: ``(model dict, lead ids)`` pairs; each lead reads what its model's horizons allow
    (``events_filter``). The engagement reset of each lead is applied by the engine. Of ``properties``
    only ``url`` is read (``UrlProperty``), the one property the engine looks at.
    """
    result: dict[int, list[tuple]] = {lead_id: [] for _, ids in groups for lead_id in ids}
    parts = []
    for model, ids in groups:
        part = events_filter(model, at) if ids else None
        if part is not None:
            parts.append(Q(lead_id__in=ids) & part)
    if not parts:
        return result
    query = parts[0]
    for part in parts[1:]:
        query |= part
    queryset = (EngagementEvent.objects.filter(query).order_by().annotate(url=UrlProperty("properties"))
                .values_list("lead_id", "type", "occurred_at", "url", "id"))
    empty: dict = {}
    for lead_id, event_type, occurred_at, url, event_id in _fast_rows(queryset, datetime_column=2):
        result[lead_id].append((event_type, occurred_at, empty if url is None else {"url": url}, event_id))
    return result


def _fast_rows(queryset, *, datetime_column: int):
    """The rows of a ``values_list`` of plain columns and one date-time, without the ORM's per-value
    converters (thousands of events per bulk request). SQLite holds naive UTC: made aware here; other
    backends (and non-UTC connections) take the ORM's path."""
    if connection.vendor != "sqlite" or connection.timezone_name != "UTC":
        yield from queryset
        return
    sql, params = queryset.query.sql_with_params()
    parse = datetime.fromisoformat
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(2000):
            for row in chunk:
                value = row[datetime_column]
                if value is not None:
                    row = list(row)
                    # Django's sqlite3 converters may have parsed the column already (naive UTC).
                    row[datetime_column] = (parse(value) if isinstance(value, str) else value).replace(tzinfo=UTC)
                yield row


class UrlProperty(Func):
    """``properties.url`` when it is a JSON string, else NULL: the only property the engine reads (the
    cooldown groups by it), extracted by the database instead of decoding every event's properties."""

    output_field = CharField()
    template = "CASE WHEN jsonb_typeof(%(expressions)s -> 'url') = 'string' THEN %(expressions)s ->> 'url' END"

    def as_sqlite(self, compiler, connection, **extra):
        template = ("CASE WHEN json_type(%(expressions)s, '$.url') = 'text' "
                    "THEN json_extract(%(expressions)s, '$.url') END")
        return self.as_sql(compiler, connection, template=template, **extra)


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
