"""Event ingestion (SPEC §2): store idempotently -> rescore -> MQL -> handoff, in one transaction.

``event_ingest`` (one event) runs a fixed number of queries whatever the lead's history length:
the idempotency check, the lead (locked), the insert (in a savepoint), the active models, the
events the score can still read (one query, bounded by each rule's decay horizon), the lead's
deals, the lead/score-change writes and the account score. ``events_ingest_bulk`` does the same
set-based for up to 1,000 events.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from leads.models import EngagementEvent, Lead
from leads.services import lead_transition, lead_upsert, normalise_email
from scoring import services as scoring_services
from scoring.engine import DISENGAGEMENT_TYPES
from scoring.models import ScoreChange

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


def _handoff(*, lead: Lead, at, trigger: str, actor) -> None:
    from revops.flows import handoff

    try:
        handoff.lead_handoff(lead=lead, at=at, trigger=trigger, actor=actor)
    except NotImplementedError:  # routing not installed yet: the MQL stands, the lead waits in the queue
        logger.warning("lead_handoff is not implemented; lead %s stays unrouted", lead.pk)


def lead_qualify_if_ready(*, lead: Lead, at, trigger: str, actor=None) -> bool:
    """Move a scored lead to MQL when its criteria (or fast-track) are met and nothing suppresses it,
    then hand it off. Automation only moves ``lead``/``recycled`` leads (never sales-owned stages)."""
    if (lead.lifecycle_stage not in scoring_services.QUALIFIABLE_STAGES or not lead.mql_criteria_met
            or lead.suppression_reason):
        return False
    reason = f"auto MQL: score {lead.score} ({trigger})"
    lead_transition(lead=lead, transition="qualify_marketing", actor=actor, reason=reason, at=at)
    _handoff(lead=lead, at=at, trigger=trigger, actor=actor)
    lead.owner_id = Lead.objects.filter(pk=lead.pk).values_list("owner_id", flat=True).first()
    return True


@transaction.atomic(savepoint=False)
def lead_score_and_qualify(*, lead: Lead, at=None, trigger: str = ScoreChange.Trigger.INTAKE, actor=None,
                           event=None, save_fields: tuple[str, ...] = ()) -> bool:
    """Rescore one lead, then qualify and hand off when ready. Returns True when it became MQL."""
    at = at or timezone.now()
    scoring_services.lead_rescore(lead=lead, at=at, trigger=trigger, event=event, actor=actor,
                                  save_fields=save_fields)
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


# ---------------------------------------------------------------- one event


def _reply(*, lead: Lead, event_id: int, duplicate: bool) -> dict[str, Any]:
    return {"event_id": event_id, "duplicate": duplicate, "lead_id": lead.pk,
            "lifecycle_stage": lead.lifecycle_stage, "fit_score": lead.fit_score,
            "engagement_score": lead.engagement_score, "score": lead.score, "owner": lead.owner_id}


def _locked_leads():
    return Lead.objects.select_related("account").select_for_update(of=("self",))


def _lead_for(data: dict[str, Any], *, actor) -> Lead:
    if "lead" in data:
        lead = _locked_leads().filter(pk=data["lead"]).first()
        if lead is None:
            raise Http404("Unknown lead.")
        return lead
    lead = _locked_leads().filter(email=data["email"]).first()
    if lead is None:
        lead, _ = lead_upsert(email=data["email"], actor=actor, reason="event from an unknown email")
    return lead


def _apply_event_to_lead(lead: Lead, event_type: str, occurred_at, now) -> list[str]:
    changed = []
    flag = FLAG_FOR_EVENT.get(event_type)
    if flag and not getattr(lead, flag):
        setattr(lead, flag, True)
        changed.append(flag)
    if event_type not in DISENGAGEMENT_TYPES and occurred_at <= now + FUTURE_TOLERANCE and (
            lead.last_engaged_at is None or occurred_at > lead.last_engaged_at):
        lead.last_engaged_at = occurred_at
        changed.append("last_engaged_at")
    return changed


def event_ingest(*, item: Any, actor=None) -> tuple[dict[str, Any], bool]:
    """Store one event idempotently, rescore its lead, qualify and hand off; returns ``(reply, created)``.

    A known idempotency key changes nothing and answers the lead as it stands (``created`` False).
    An unknown lead id raises ``Http404``; an unknown email creates a ``subscriber``. Everything
    (event, lead, score, MQL, handoff) happens in one transaction; when a concurrent request stores
    the same key first, the unique constraint fails the insert, the whole transaction rolls back
    (a subscriber it created included) and the answer is the duplicate one.
    """
    now = timezone.now()
    data = event_parse(item, now=now)
    existing = (EngagementEvent.objects.filter(idempotency_key=data["idempotency_key"])
                .values_list("pk", "lead_id").first())
    if existing is None:
        try:
            return _event_ingest(data=data, now=now, actor=actor)
        except IntegrityError:
            existing = (EngagementEvent.objects.filter(idempotency_key=data["idempotency_key"])
                        .values_list("pk", "lead_id").first())
            if existing is None:
                raise
    return _reply(lead=Lead.objects.get(pk=existing[1]), event_id=existing[0], duplicate=True), False


@transaction.atomic
def _event_ingest(*, data: dict[str, Any], now, actor) -> tuple[dict[str, Any], bool]:
    lead = _lead_for(data, actor=actor)
    event = EngagementEvent.objects.create(lead=lead, type=data["type"], occurred_at=data["occurred_at"],
                                           idempotency_key=data["idempotency_key"],
                                           properties=data["properties"])
    at = max(now, data["occurred_at"])
    changed = _apply_event_to_lead(lead, data["type"], data["occurred_at"], now)
    lead_score_and_qualify(lead=lead, at=at, trigger=ScoreChange.Trigger.EVENT, actor=actor, event=event,
                           save_fields=tuple(changed))
    return _reply(lead=lead, event_id=event.pk, duplicate=False), True


# ---------------------------------------------------------------- bulk


@transaction.atomic
def events_ingest_bulk(*, items: Any, actor=None) -> dict[str, Any]:
    """Store up to 1,000 events; good items land even when others are bad (errors per index).

    Duplicate keys (already stored, or repeated inside the batch) count once as duplicates.
    Affected leads are rescored set-based, then qualified and handed off, in this transaction.
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
    known_ids = set(Lead.objects.filter(pk__in=lead_ids).values_list("pk", flat=True)) if lead_ids else set()
    emails = {d["email"] for _, d in fresh if "email" in d}
    by_email = dict(Lead.objects.filter(email__in=emails).values_list("email", "pk")) if emails else {}
    for email in sorted(emails - set(by_email)):
        lead, _ = lead_upsert(email=email, actor=actor, reason="event from an unknown email")
        by_email[email] = lead.pk

    rows: list[EngagementEvent] = []
    for index, data in fresh:
        lead_id = data["lead"] if "lead" in data else by_email[data["email"]]
        if "lead" in data and lead_id not in known_ids:
            errors.append({"index": index, "error": f"lead: Unknown lead {lead_id}."})
            continue
        rows.append(EngagementEvent(lead_id=lead_id, type=data["type"], occurred_at=data["occurred_at"],
                                    idempotency_key=data["idempotency_key"], properties=data["properties"]))
    EngagementEvent.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    # Which rows are ours (a concurrent request may have stored a key between the check and the insert).
    stored_rows = {key: (pk, lead_id, event_type, occurred_at) for key, pk, lead_id, event_type, occurred_at in
                   EngagementEvent.objects.filter(idempotency_key__in=[r.idempotency_key for r in rows])
                   .values_list("idempotency_key", "pk", "lead_id", "type", "occurred_at")}
    ours = [r for r in rows if (stored_rows.get(r.idempotency_key) or (None, None))[1:3] == (r.lead_id, r.type)]
    duplicates += len(rows) - len(ours)
    errors.sort(key=lambda e: e["index"])
    if ours:
        _apply_events_to_leads(ours, now)
        latest: dict[int, tuple] = {}
        for row in ours:
            pk = stored_rows[row.idempotency_key][0]
            if row.lead_id not in latest or row.occurred_at >= latest[row.lead_id][0]:
                latest[row.lead_id] = (row.occurred_at, pk, row.type)
        at = max([now, *(r.occurred_at for r in ours)])
        leads_rescore_and_qualify(
            lead_ids=sorted(latest), at=at, trigger=ScoreChange.Trigger.EVENT, actor=actor,
            events_by_key={lead_id: v[1] for lead_id, v in latest.items()},
            triggers={lead_id: v[2] for lead_id, v in latest.items()})
    return {"stored": len(ours), "duplicates": duplicates, "errors": errors}


def _apply_events_to_leads(rows: list[EngagementEvent], now) -> None:
    """Suppression flags and last-engaged times for many leads, in at most four UPDATE statements."""
    for event_type, flag in FLAG_FOR_EVENT.items():
        ids = {r.lead_id for r in rows if r.type == event_type}
        if ids:
            Lead.objects.filter(pk__in=ids).exclude(**{flag: True}).update(**{flag: True})
    engaged: dict[int, datetime] = {}
    for r in rows:
        if r.type not in DISENGAGEMENT_TYPES and r.occurred_at <= now + FUTURE_TOLERANCE:
            engaged[r.lead_id] = max(engaged.get(r.lead_id, r.occurred_at), r.occurred_at)
    if engaged:
        field = Lead._meta.get_field("last_engaged_at")
        quote = connection.ops.quote_name
        column, table = quote(field.column), quote(Lead._meta.db_table)
        sql = (f"UPDATE {table} SET {column} = %s WHERE {quote('id')} = %s "
               f"AND ({column} IS NULL OR {column} < %s)")
        params = [(field.get_db_prep_save(t, connection), lead_id, field.get_db_prep_save(t, connection))
                  for lead_id, t in sorted(engaged.items())]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
