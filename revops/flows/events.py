"""Event ingestion (SPEC §2): store idempotently -> rescore -> MQL -> handoff, in one transaction.

``event_ingest`` (one event) runs a fixed number of queries whatever the lead's history length:
the lead (locked, with its account and deal flags), the insert (``ON CONFLICT DO NOTHING
RETURNING``: no separate idempotency check, no savepoint), the active models, the events the score
can still read (one query, bounded by each rule's decay horizon), the lead, history and
score-change writes and one account-score upsert. ``events_ingest_bulk`` does the same set-based
for up to 1,000 events (see its docstring and docs/performance.md).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from leads.models import EngagementEvent, Lead
from leads.services import enqueue_on_commit, lead_transition, lead_upsert, normalise_email
from scoring import selectors as scoring_selectors
from scoring import services as scoring_services
from scoring.engine import DISENGAGEMENT_TYPES
from scoring.models import ScoreChange

from . import handoff as handoff_flow

logger = logging.getLogger(__name__)

MAX_BULK = 1000
FUTURE_TOLERANCE = timedelta(minutes=5)
EVENT_TYPES = frozenset(EngagementEvent.Type.values)
# Events that also set a suppression flag on the lead.
FLAG_FOR_EVENT = {"unsubscribe": "opted_out", "hard_bounce": "hard_bounced", "spam_complaint": "spam_complaint"}


# ---------------------------------------------------------------- parsing


def event_parse(item: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """Validate one event body; raises ``ValidationError`` naming the field."""
    if not isinstance(item, dict):
        raise ValidationError({"non_field_errors": ["An event must be an object."]})
    now = now or timezone.now()
    lead_ref, email = item.get("lead"), item.get("email")
    data: dict[str, Any] = {}
    if lead_ref not in (None, ""):
        if isinstance(lead_ref, bool) or not isinstance(lead_ref, int | str) or not str(lead_ref).isdigit():
            raise ValidationError({"lead": ["A lead id (integer) is required."]})
        data["lead"] = int(lead_ref)
    elif email not in (None, ""):
        email = normalise_email(email) if isinstance(email, str) else ""
        local, _, domain = email.partition("@")
        if not local or "." not in domain or " " in email or len(email) > 254:
            raise ValidationError({"email": ["Enter a valid email address."]})
        data["email"] = email
    else:
        raise ValidationError({"lead": ["Give the lead id or an email."]})
    event_type = item.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise ValidationError({"type": [f"Unknown event type {event_type!r}."]})
    data["type"] = event_type
    raw_time = item.get("occurred_at")
    if raw_time in (None, ""):
        occurred_at = now
    else:
        try:
            occurred_at = parse_datetime(raw_time) if isinstance(raw_time, str) else None
        except ValueError:  # well formed but not a real date (Feb 30)
            occurred_at = None
        if occurred_at is None:
            raise ValidationError({"occurred_at": ["Not an ISO 8601 date-time."]})
        if timezone.is_naive(occurred_at):
            occurred_at = occurred_at.replace(tzinfo=UTC)
        if occurred_at > now + FUTURE_TOLERANCE:
            raise ValidationError({"occurred_at": ["Lies in the future."]})
    data["occurred_at"] = occurred_at
    key = item.get("idempotency_key")
    if key in (None, ""):
        key = f"auto:{uuid.uuid4()}"
    if not isinstance(key, str | int) or isinstance(key, bool) or len(str(key)) > 200:
        raise ValidationError({"idempotency_key": ["A string of at most 200 characters."]})
    data["idempotency_key"] = str(key)
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        raise ValidationError({"properties": ["Must be an object."]})
    data["properties"] = properties
    return data


def _error_text(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(m for e in errs for m in e.messages)}"
                         for field, errs in exc.error_dict.items())
    return " ".join(exc.messages)


# ---------------------------------------------------------------- MQL and handoff


def lead_qualify_if_ready(*, lead: Lead, at, trigger: str, actor=None) -> bool:
    """Move a scored lead to MQL when its criteria (or fast-track) are met and nothing suppresses it,
    then hand it off in the same transaction. Automation only moves ``lead``/``recycled`` leads
    (never sales-owned stages)."""
    if (lead.lifecycle_stage not in scoring_services.QUALIFIABLE_STAGES or not lead.mql_criteria_met
            or lead.suppression_reason):
        return False
    reason = f"auto MQL: score {lead.score} ({trigger})"
    lead_transition(lead=lead, transition="qualify_marketing", actor=actor, reason=reason, at=at)
    assignment = handoff_flow.lead_handoff(lead=lead, at=at, trigger=trigger, actor=actor)
    lead.owner_id = assignment.rep_id
    payload = {"text": f"[revops] New MQL: {lead.email} (score {lead.score}, {trigger})", "lead": lead.pk,
               "email": lead.email, "score": lead.score, "fit_score": lead.fit_score,
               "engagement_score": lead.engagement_score, "is_recycled": lead.is_recycled, "trigger": trigger,
               "owner": assignment.rep_id}
    key = f"lead.mql:{lead.pk}:{lead.mql_at.isoformat()}"
    enqueue_on_commit("revops.notifications.send_webhook", event="lead.mql", payload=payload, dedupe_key=key)
    return True


@transaction.atomic(savepoint=False)
def lead_score_and_qualify(*, lead: Lead, at=None, trigger: str = ScoreChange.Trigger.INTAKE, actor=None,
                           event=None, save_fields: tuple[str, ...] = (), deal_flags: set[str] | None = None) -> bool:
    """Rescore one lead, then qualify and hand off when ready. Returns True when it became MQL."""
    at = at or timezone.now()
    scoring_services.lead_rescore(lead=lead, at=at, trigger=trigger, event=event, actor=actor,
                                  save_fields=save_fields, deal_flags=deal_flags)
    qualified = lead_qualify_if_ready(lead=lead, at=at, trigger=event.type if event else "score", actor=actor)
    if lead.account_id:
        scoring_services.account_scores_refresh(account_ids=[lead.account_id], at=at)
    return qualified


def leads_rescore_and_qualify(*, lead_ids: list[int], at=None, trigger: str = ScoreChange.Trigger.DECAY,
                              models=None, events_by_key: dict | None = None, triggers: dict | None = None,
                              actor=None) -> dict[str, Any]:
    """Set-based rescoring of many leads, then MQL + handoff for those that now qualify."""
    at = at or timezone.now()
    qualifying, changed = scoring_services.leads_rescore(lead_ids=lead_ids, at=at, trigger=trigger, actor=actor,
                                                         models=models, events_by_key=events_by_key)
    qualified = []
    for lead_id in qualifying:
        with transaction.atomic():
            lead = Lead.objects.select_for_update().get(pk=lead_id)
            if lead_qualify_if_ready(lead=lead, at=at, trigger=(triggers or {}).get(lead_id, "score"),
                                     actor=actor):
                qualified.append(lead_id)
    accounts = set(Lead.objects.filter(pk__in=lead_ids).exclude(account=None).values_list("account_id", flat=True)
                   ) if trigger == ScoreChange.Trigger.EVENT else set()
    if accounts:
        scoring_services.account_scores_refresh(account_ids=accounts, at=at)
    return {"changed": changed, "qualified": qualified}


# ---------------------------------------------------------------- storing events


class _Duplicate(Exception):
    """The idempotency key is stored already: roll back whatever this request did and answer the duplicate."""


def events_insert(rows: list[tuple[int, str, datetime, str, dict]], *, now) -> dict[str, int]:
    """Insert ``(lead_id, type, occurred_at, idempotency_key, properties)`` rows in ONE statement,
    ``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key``.

    Returns ``{key: id}`` of the rows this statement stored: a key stored before, or by a concurrent
    request (PostgreSQL waits for it to commit), is absent. No savepoint and no IntegrityError.
    """
    if not rows:
        return {}
    meta = EngagementEvent._meta
    quote = connection.ops.quote_name
    columns = ["lead_id", "type", "occurred_at", "received_at", "idempotency_key", "properties"]
    suffix = (f"ON CONFLICT ({quote('idempotency_key')}) DO NOTHING RETURNING {quote('id')}, "
              f"{quote('idempotency_key')}")
    if connection.vendor == "postgresql":
        # One array per column (a few placeholders instead of six per row: Django's client-side-binding
        # cursor merges every placeholder into the SQL text in Python).
        encoder = meta.get_field("properties").encoder
        lead_ids, types, times, keys, properties = (list(c) for c in zip(*rows, strict=True))
        sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
               f"SELECT v.lead_id, v.type, v.occurred_at, %s, v.key, v.properties::jsonb "
               f"FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::text[], %s::text[]) "
               f"AS v(lead_id, type, occurred_at, key, properties) {suffix}")
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, lead_ids, types, times, keys,
                                 [json.dumps(p, cls=encoder) for p in properties]])
            return {key: pk for pk, key in cursor.fetchall()}
    prep_time = meta.get_field("occurred_at").get_db_prep_save
    prep_json = meta.get_field("properties").get_db_prep_save
    received = prep_time(now, connection)
    stored: dict[str, int] = {}
    step = max(1, (scoring_services._param_limit() - 1) // len(columns))
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        params: list = []
        for lead_id, event_type, occurred_at, key, properties in chunk:
            params += [lead_id, event_type, prep_time(occurred_at, connection), received, key,
                       prep_json(properties, connection)]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
        sql = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) VALUES {values} {suffix}"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            stored.update((key, pk) for pk, key in cursor.fetchall())
    return stored


# ---------------------------------------------------------------- one event


def _reply(*, lead: Lead, event_id: int, duplicate: bool) -> dict[str, Any]:
    return {"event_id": event_id, "duplicate": duplicate, "lead_id": lead.pk,
            "lifecycle_stage": lead.lifecycle_stage, "fit_score": lead.fit_score,
            "engagement_score": lead.engagement_score, "score": lead.score, "owner": lead.owner_id}


def _locked_leads():
    """Leads locked for scoring, with their account and deal flags in the same query."""
    return (Lead.objects.select_related("account").select_for_update(of=("self",))
            .annotate(**scoring_selectors.deal_flag_annotations()))


def _lead_for(data: dict[str, Any], *, actor) -> Lead:
    if "lead" in data:
        lead = _locked_leads().filter(pk=data["lead"]).first()
        if lead is None:
            if EngagementEvent.objects.filter(idempotency_key=data["idempotency_key"]).exists():
                raise _Duplicate
            raise Http404("Unknown lead.")
        return lead
    lead = _locked_leads().filter(email=data["email"]).first()
    if lead is None:
        lead, _ = lead_upsert(email=data["email"], actor=actor, reason="event from an unknown email")
    return lead


def _apply_event_to_lead(lead, event_type: str, occurred_at, now) -> list[str]:
    """Suppression flag and last-engaged time an event sets, on a Lead or a ``lead_rows`` row (a dict)."""
    get, put = (lead.get, lead.__setitem__) if isinstance(lead, dict) else (
        lambda name: getattr(lead, name), lambda name, value: setattr(lead, name, value))
    changed = []
    flag = FLAG_FOR_EVENT.get(event_type)
    if flag and not get(flag):
        put(flag, True)
        changed.append(flag)
    last = get("last_engaged_at")
    if event_type not in DISENGAGEMENT_TYPES and occurred_at <= now + FUTURE_TOLERANCE and (
            last is None or occurred_at > last):
        put("last_engaged_at", occurred_at)
        changed.append("last_engaged_at")
    return changed


def event_ingest(*, item: Any, actor=None) -> tuple[dict[str, Any], bool]:
    """Store one event idempotently, rescore its lead, qualify and hand off; returns ``(reply, created)``.

    A known idempotency key changes nothing and answers the lead as it stands (``created`` False).
    An unknown lead id raises ``Http404``; an unknown email creates a ``subscriber``. Everything
    (event, lead, score, MQL, handoff) happens in one transaction. The insert is
    ``ON CONFLICT DO NOTHING``: when the key is stored already (or a concurrent request stores it
    first) the transaction rolls back (a subscriber it created included) and the answer is the
    duplicate one. Fresh events run a fixed number of queries (tests/scoring/test_api.py).
    """
    now = timezone.now()
    data = event_parse(item, now=now)
    try:
        return _event_ingest(data=data, now=now, actor=actor)
    except _Duplicate:
        pass
    existing = (EngagementEvent.objects.filter(idempotency_key=data["idempotency_key"])
                .values_list("pk", "lead_id").first())
    return _reply(lead=Lead.objects.get(pk=existing[1]), event_id=existing[0], duplicate=True), False


@transaction.atomic
def _event_ingest(*, data: dict[str, Any], now, actor) -> tuple[dict[str, Any], bool]:
    lead = _lead_for(data, actor=actor)
    stored = events_insert([(lead.pk, data["type"], data["occurred_at"], data["idempotency_key"],
                             data["properties"])], now=now)
    if not stored:
        raise _Duplicate
    event = EngagementEvent(pk=stored[data["idempotency_key"]], lead=lead, type=data["type"],
                            occurred_at=data["occurred_at"], received_at=now,
                            idempotency_key=data["idempotency_key"], properties=data["properties"])
    at = max(now, data["occurred_at"])
    changed = _apply_event_to_lead(lead, data["type"], data["occurred_at"], now)
    lead_score_and_qualify(lead=lead, at=at, trigger=ScoreChange.Trigger.EVENT, actor=actor, event=event,
                           save_fields=tuple(changed), deal_flags=scoring_selectors.deal_flags_annotated(lead))
    return _reply(lead=lead, event_id=event.pk, duplicate=False), True


# ---------------------------------------------------------------- bulk


@transaction.atomic
def events_ingest_bulk(*, items: Any, actor=None) -> dict[str, Any]:
    """Store up to 1,000 events; good items land even when others are bad (errors per index).

    Duplicate keys (already stored, or repeated inside the batch) count once as duplicates. Set-based,
    in one transaction, whatever the batch holds (issue 3, docs/performance.md):

    1. parse every item; dedupe keys inside the batch; the keys already stored: ONE query;
    2. the affected leads with their accounts and deal flags, locked in id order: ONE query (an unknown
       email creates its subscriber through ``lead_upsert``, one by one);
    3. the new events: ONE ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (what it returns is ours;
       the rest was stored concurrently and counts as duplicates);
    4. the active models (ONE query), the events that can still count for all affected leads (ONE
       query), the pure engine per lead, then one UPDATE (executemany), one INSERT ... SELECT of
       history rows and one bulk INSERT of ScoreChange rows (``scoring.services.lead_rows_rescore``);
    5. only the leads that now qualify go through the per-lead MQL transition and handoff;
    6. the account scores of the affected accounts: ONE upsert.
    """
    if not isinstance(items, list):
        raise ValidationError({"non_field_errors": ["Send a JSON list of events."]})
    if len(items) > MAX_BULK:
        raise ValidationError({"non_field_errors": [f"At most {MAX_BULK} events per request."]})
    now = timezone.now()
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, dict]] = []
    seen: set[str] = set()
    duplicates = 0
    for index, item in enumerate(items):
        try:
            data = event_parse(item, now=now)
        except ValidationError as exc:
            errors.append({"index": index, "error": _error_text(exc)})
            continue
        if data["idempotency_key"] in seen:
            duplicates += 1
            continue
        seen.add(data["idempotency_key"])
        parsed.append((index, data))

    existing = set(EngagementEvent.objects.filter(idempotency_key__in=list(seen))
                   .values_list("idempotency_key", flat=True)) if seen else set()
    fresh = [(i, d) for i, d in parsed if d["idempotency_key"] not in existing]
    duplicates += len(parsed) - len(fresh)

    lead_ids = {d["lead"] for _, d in fresh if "lead" in d}
    emails = {d["email"] for _, d in fresh if "email" in d}
    rows = scoring_selectors.lead_rows(Q(pk__in=lead_ids) | Q(email__in=emails), lock=True) if fresh else []
    by_id = {row["id"]: row for row in rows}
    by_email = {row["email"]: row for row in rows}
    created = [lead_upsert(email=email, actor=actor, reason="event from an unknown email")[0].pk
               for email in sorted(emails - set(by_email))]
    if created:
        for row in scoring_selectors.lead_rows(Q(pk__in=created), lock=True):
            by_id[row["id"]] = by_email[row["email"]] = row

    pending: list[tuple[dict, dict]] = []
    for index, data in fresh:
        row = by_id.get(data["lead"]) if "lead" in data else by_email[data["email"]]
        if row is None:
            errors.append({"index": index, "error": f"lead: Unknown lead {data['lead']}."})
            continue
        pending.append((row, data))
    stored = events_insert([(row["id"], d["type"], d["occurred_at"], d["idempotency_key"], d["properties"])
                            for row, d in pending], now=now)
    ours = [(row, d, stored[d["idempotency_key"]]) for row, d in pending if d["idempotency_key"] in stored]
    duplicates += len(pending) - len(ours)
    errors.sort(key=lambda e: e["index"])
    if ours:
        _score_and_qualify_rows(ours, now=now, actor=actor)
    return {"stored": len(ours), "duplicates": duplicates, "errors": errors}


def _score_and_qualify_rows(ours: list[tuple[dict, dict, int]], *, now, actor) -> None:
    """Rescore the leads of the stored events set-based, then MQL + handoff for those that qualify."""
    latest: dict[int, tuple] = {}
    for row, data, event_id in ours:
        changed = _apply_event_to_lead(row, data["type"], data["occurred_at"], now)
        if changed:
            row["_dirty"] = True
            if any(name != "last_engaged_at" for name in changed):
                row["_history"] = True
        previous = latest.get(row["id"])
        if previous is None or data["occurred_at"] >= previous[0]:
            latest[row["id"]] = (data["occurred_at"], event_id, data["type"], row)
    at = max([now, *(v[0] for v in latest.values())])
    qualifying, _ = scoring_services.lead_rows_rescore(
        rows=[v[3] for v in latest.values()], at=at, trigger=ScoreChange.Trigger.EVENT, actor=actor,
        event_for_lead={lead_id: v[1] for lead_id, v in latest.items()})
    if qualifying:
        # Locked already (lead_rows); full instances only for the few that move to MQL.
        for lead in Lead.objects.select_related("account").filter(pk__in=[r["id"] for r in qualifying]
                                                                  ).order_by("pk"):
            lead_qualify_if_ready(lead=lead, at=at, trigger=latest[lead.pk][2], actor=actor)
    accounts = {v[3]["account_id"] for v in latest.values() if v[3]["account_id"]}
    if accounts:
        scoring_services.account_scores_refresh(account_ids=accounts, at=at)
