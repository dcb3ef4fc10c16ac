"""Write use-cases of scoring: model versions and activation, rescoring leads, account scores.

Scoring only: these services compute and store scores, breakdowns, MQL criteria and suppression.
Moving a lead to MQL and the handoff are orchestrated by ``revops.flows.events``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from leads.models import EmailDomainKind, Lead

from . import engine, selectors
from .models import AccountScore, RescoreJob, ScoreChange, ScoringModel

# Segments with more leads than this are rescored in the background (django-q2) on activation.
INLINE_RESCORE_LIMIT = 2000
BATCH_SIZE = 500
ENGAGED_WINDOW = timedelta(days=30)
BUYING_COMMITTEE_SIZE = 3
QUALIFIABLE_STAGES = (Lead.Stage.LEAD, Lead.Stage.RECYCLED)
SCORE_FIELDS = ["fit_score", "engagement_score", "score", "score_breakdown", "scored_at", "scoring_model_version",
                "mql_criteria_met", "suppression_reason", "email_domain_kind"]
EDITABLE_FIELDS = ("name", "segment", "description", *ScoringModel.JSON_FIELDS, *ScoringModel.SETTING_FIELDS)


def _record(instance, *, actor, reason: str) -> None:
    instance._history_user = actor if getattr(actor, "is_authenticated", False) else None
    instance._change_reason = reason[:100] if reason else None


# ---------------------------------------------------------------- models and versions


@transaction.atomic
def scoring_model_create(*, actor=None, **data: Any) -> ScoringModel:
    """Store a draft; when the name exists it becomes that name's next version."""
    unknown = set(data) - set(EDITABLE_FIELDS) - {"approval_note"}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: ["Unknown field."]})
    name = (data.get("name") or "").strip()
    if not name:
        raise ValidationError({"name": ["A name is required."]})
    latest = (ScoringModel.objects.select_for_update().filter(name=name)
              .aggregate(v=Max("version"))["v"]) or 0
    model = ScoringModel(**{**data, "name": name}, version=latest + 1, status=ScoringModel.Status.DRAFT,
                         created_by=actor if getattr(actor, "is_authenticated", False) else None)
    model.full_clean(exclude=["created_by", "approved_by"])
    _record(model, actor=actor, reason=f"draft v{model.version}")
    model.save()
    return model


@transaction.atomic
def scoring_model_update(*, model: ScoringModel, actor=None, **changes: Any) -> ScoringModel:
    """Edit a draft in place; editing an active or retired model stores a new draft version instead."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: ["Unknown field."]})
    if model.status != ScoringModel.Status.DRAFT:
        data = {name: getattr(model, name) for name in EDITABLE_FIELDS}
        data.update(changes)
        return scoring_model_create(actor=actor, **data)
    for name, value in changes.items():
        setattr(model, name, value)
    model.full_clean(exclude=["created_by", "approved_by"])
    _record(model, actor=actor, reason="draft edited")
    model.save()
    return model


@transaction.atomic
def scoring_model_activate(*, model: ScoringModel, actor=None, note: str = "",
                           inline_limit: int = INLINE_RESCORE_LIMIT) -> tuple[ScoringModel, RescoreJob]:
    """Make ``model`` the one active model of its segment (retiring the previous one) and rescore.

    The segment's leads are rescored set-based in batches: inline for small segments, otherwise by a
    django-q2 job enqueued on commit whose progress is stored on the returned ``RescoreJob``.
    """
    model = ScoringModel.objects.select_for_update().get(pk=model.pk)
    now = timezone.now()
    if model.status == ScoringModel.Status.ACTIVE:
        raise ValidationError({"status": ["This model is already active."]})
    model.full_clean(exclude=["created_by", "approved_by"])
    for previous in ScoringModel.objects.select_for_update().filter(segment=model.segment,
                                                                    status=ScoringModel.Status.ACTIVE):
        previous.status, previous.retired_at = ScoringModel.Status.RETIRED, now
        _record(previous, actor=actor, reason=f"retired by {model.label}")
        previous.save()
    model.status, model.activated_at, model.retired_at = ScoringModel.Status.ACTIVE, now, None
    model.approved_by = actor if getattr(actor, "is_authenticated", False) else None
    model.approval_note = note or model.approval_note
    _record(model, actor=actor, reason=f"activated: {note}" if note else "activated")
    model.save()

    total = selectors.lead_ids_for_segment(model.segment).count()
    job = RescoreJob.objects.create(scoring_model=model, segment=model.segment, total=total,
                                    trigger=ScoreChange.Trigger.ACTIVATION)
    if total > inline_limit:
        transaction.on_commit(lambda: _enqueue("scoring.tasks.rescore_job_run", job_id=job.pk))
    else:
        from .tasks import rescore_job_run

        rescore_job_run(job_id=job.pk)
        job.refresh_from_db()
    return model, job


# ---------------------------------------------------------------- one lead


def lead_attrs(lead: Lead) -> dict[str, Any]:
    return {
        "email": lead.email, "title": lead.title, "title_level": lead.title_level,
        "department": lead.department, "source": lead.source, "email_domain_kind": lead.email_domain_kind,
        "engagement_reset_at": lead.engagement_reset_at, "created_at": lead.created_at,
    }


def account_attrs(lead: Lead) -> dict[str, Any]:
    account = lead.account if lead.account_id else None
    if account is None:
        return {}
    return {"employees": account.employees, "annual_revenue": account.annual_revenue,
            "industry": account.industry, "country": account.country, "state": account.state,
            "tech_tags": account.tech_tags}


def suppression_reason_for(lead: Lead, *, domain_kind: str, deal_flags: set[str]) -> str:
    """Why this lead may not become MQL (SPEC §4), or ''. The first reason in this order is recorded."""
    if lead.do_not_contact:
        return "do_not_contact"
    if lead.opted_out:
        return "opted_out"
    if lead.hard_bounced:
        return "hard_bounce"
    if lead.spam_complaint:
        return "spam_complaint"
    if domain_kind == EmailDomainKind.COMPETITOR:
        return "competitor"
    if domain_kind == EmailDomainKind.INTERNAL:
        return "internal"
    if lead.lifecycle_stage in (Lead.Stage.CUSTOMER, Lead.Stage.EVANGELIST) or "customer" in deal_flags:
        return "customer"
    if "active_deal" in deal_flags:
        return "active_deal"
    return ""


def _apply(lead: Lead, *, model: ScoringModel | None, model_dict: dict | None, events: list[tuple],
           deal_flags: set[str], at) -> tuple[engine.ScoreResult | None, ScoreChange | None]:
    """Compute and set the score fields on ``lead`` (no save). Returns the result and an unsaved change row."""
    old = (lead.fit_score, lead.engagement_score, lead.score)
    if model is None:
        result = None
        fit = engagement = 0
        breakdown, criteria, version = [], False, ""
        domain_kind = lead.email_domain_kind
    else:
        result = engine.score(model_dict, lead_attrs(lead), account_attrs(lead), events, at)
        fit, engagement, breakdown = result.fit, result.engagement, result.breakdown
        criteria, version = result.qualifies, model.label
        domain_kind = engine.email_domain_kind(lead_attrs(lead), model_dict)
    lead.fit_score, lead.engagement_score, lead.score = fit, engagement, fit + engagement
    lead.score_breakdown = breakdown
    lead.mql_criteria_met = criteria
    lead.scoring_model_version = version
    lead.email_domain_kind = domain_kind
    lead.suppression_reason = suppression_reason_for(lead, domain_kind=domain_kind, deal_flags=deal_flags)
    lead.scored_at = at
    change = None
    if old != (lead.fit_score, lead.engagement_score, lead.score):
        change = ScoreChange(lead=lead, scoring_model=model, at=at, old_fit=old[0], old_engagement=old[1],
                             old_score=old[2], new_fit=lead.fit_score, new_engagement=lead.engagement_score,
                             new_score=lead.score)
    return result, change


def _snapshot(lead: Lead) -> tuple:
    return tuple(getattr(lead, name) for name in SCORE_FIELDS if name != "scored_at")


@transaction.atomic(savepoint=False)
def lead_rescore(*, lead: Lead, at=None, trigger: str = ScoreChange.Trigger.EVENT, event=None, actor=None,
                 models: dict[str, ScoringModel] | None = None, save_fields: tuple[str, ...] = ()
                 ) -> engine.ScoreResult | None:
    """Rescore one lead with the active model of its segment and store score, breakdown and history.

    Runs a fixed number of queries whatever the lead's history: the active models, the events the
    score can still read (``selectors.events_for_lead``), the lead's deals, then the writes.
    ``save_fields`` are other lead fields the caller changed and wants saved in the same write.
    A ``ScoreChange`` row (old, new, the event that caused it) is written when the score changes.
    """
    at = at or timezone.now()
    model = selectors.model_for_segment(lead.segment, models)
    model_dict = model.as_engine_dict() if model else None
    events = selectors.events_for_lead(model=model_dict, lead=lead, at=at) if model else []
    flags = selectors.deal_flags_for_leads([lead])[lead.pk]
    before = _snapshot(lead)
    result, change = _apply(lead, model=model, model_dict=model_dict, events=events, deal_flags=flags, at=at)
    if before != _snapshot(lead) or save_fields:
        _record(lead, actor=actor, reason=f"score {change.old_score} -> {change.new_score}" if change
                else "rescored")
        lead.save(update_fields=[*SCORE_FIELDS, *save_fields, "updated_at"])
    if change is not None:
        change.trigger, change.event = trigger, event
        change.save()
    return result


# ---------------------------------------------------------------- many leads, set-based


def leads_rescore(*, lead_ids: list[int], at=None, trigger: str = ScoreChange.Trigger.DECAY, actor=None,
                  models: dict[str, ScoringModel] | None = None, events_by_key: dict | None = None
                  ) -> tuple[list[int], int]:
    """Rescore many leads in batches: a few queries per batch, bulk writes with history.

    Returns ``(qualifying lead ids, number of leads whose score changed)``; qualifying means the
    lead is at ``lead``/``recycled``, meets the criteria (or fast-track) and is not suppressed.
    ``events_by_key`` maps a lead id to the id of the event that triggered its rescoring (ScoreChange).
    """
    at = at or timezone.now()
    models = selectors.active_models() if models is None else models
    qualifying: list[int] = []
    changed_count = 0
    for start in range(0, len(lead_ids), BATCH_SIZE):
        with transaction.atomic():
            batch_ids = lead_ids[start : start + BATCH_SIZE]
            leads = list(Lead.objects.select_related("account").filter(pk__in=batch_ids).order_by("pk"))
            flags = selectors.deal_flags_for_leads(leads)
            by_model: dict[int | None, list[Lead]] = {}
            for lead in leads:
                model = selectors.model_for_segment(lead.segment, models)
                by_model.setdefault(model.pk if model else None, []).append(lead)
            changed_leads, changes = [], []
            for model_pk, group in by_model.items():
                model = next((m for m in models.values() if m.pk == model_pk), None)
                model_dict = model.as_engine_dict() if model else None
                events = selectors.events_for_leads(model=model_dict, leads=group, at=at) if model else {}
                for lead in group:
                    before = _snapshot(lead)
                    result, change = _apply(lead, model=model, model_dict=model_dict,
                                            events=events.get(lead.pk, []), deal_flags=flags[lead.pk], at=at)
                    if before != _snapshot(lead):
                        _record(lead, actor=actor, reason=f"rescored ({trigger})")
                        changed_leads.append(lead)
                    if change is not None:
                        change.trigger = trigger
                        change.event_id = (events_by_key or {}).get(lead.pk)
                        changes.append(change)
                    if (lead.lifecycle_stage in QUALIFIABLE_STAGES and lead.mql_criteria_met
                            and not lead.suppression_reason):
                        qualifying.append(lead.pk)
            if changed_leads:
                leads_write_fields(changed_leads, [*SCORE_FIELDS, "updated_at"], at=at)
                Lead.history.bulk_history_create(changed_leads, update=True, batch_size=BATCH_SIZE,
                                                 default_change_reason=f"rescored ({trigger})")
            ScoreChange.objects.bulk_create(changes, batch_size=BATCH_SIZE)
            changed_count += len(changes)
    return qualifying, changed_count


def leads_write_fields(leads: list[Lead], fields: list[str], *, at) -> None:
    """One parameterised UPDATE per lead sent with ``executemany`` (Django's ``bulk_update`` builds a
    CASE per field and row, which costs far more than the scoring itself)."""
    for lead in leads:
        lead.updated_at = at
    model_fields = [Lead._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in model_fields)
    sql = f"UPDATE {quote(Lead._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
    params = [[f.get_db_prep_save(getattr(lead, f.attname), connection) for f in model_fields] + [lead.pk]
              for lead in leads]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def leads_with_decay_due(*, since, at) -> list[int]:
    """Leads whose decayed points may have changed between ``since`` and ``at``: those with an event
    of a decaying or windowed type or an inactivity rule in reach (set-based; one query per model)."""
    models = selectors.active_models()
    ids: set[int] = set()
    for model in models.values():
        model_dict = model.as_engine_dict()
        horizons = engine.type_horizons(model_dict)
        decaying = sorted({r["event"] for r in model_dict["rules"] if "event" in r and r.get("decay_points")})
        segment_leads = selectors.lead_ids_for_segment(model.segment, models)
        longest = max([h for h in horizons.values() if h is not None] + [0.0])
        query = Q(events__type__in=decaying, events__occurred_at__gte=since - timedelta(days=longest + 1))
        if any(r.get("min_count") and r.get("decay_points") for r in model_dict["rules"]):
            query |= Q(events__type__in=decaying)
        if engine.inactivity_days(model_dict):
            query |= Q(pk__gte=0)
        ids.update(Lead.objects.filter(query, pk__in=segment_leads).values_list("pk", flat=True).distinct())
    return sorted(ids)


# ---------------------------------------------------------------- accounts


def account_scores_refresh(*, account_ids: set[int] | list[int], at=None) -> list[int]:
    """Account score = sum of its contacts' engagement; raise the buying-committee alert once per account
    when 3+ contacts engaged within 30 days (webhook to the account owner, on commit). Returns alerted ids."""
    at = at or timezone.now()
    account_ids = sorted({a for a in account_ids if a})
    if not account_ids:
        return []
    rows = (Lead.objects.filter(account_id__in=account_ids).order_by().values("account_id")
            .annotate(engagement=Sum("engagement_score"),
                      engaged=Count("pk", filter=Q(last_engaged_at__gte=at - ENGAGED_WINDOW,
                                                   engagement_score__gt=0))))
    alerted = []
    for row in rows:
        account_id = row["account_id"]
        values = {"engagement_score": row["engagement"] or 0, "engaged_contacts": row["engaged"]}
        if not AccountScore.objects.filter(pk=account_id).update(**values, updated_at=at):
            AccountScore.objects.bulk_create([AccountScore(account_id=account_id, **values)], ignore_conflicts=True)
        if row["engaged"] >= BUYING_COMMITTEE_SIZE and AccountScore.objects.filter(
                pk=account_id, committee_alerted_at__isnull=True).update(committee_alerted_at=at):
            alerted.append(account_id)
            _alert_buying_committee(account_id=account_id, engaged=row["engaged"], at=at)
    return alerted


def _alert_buying_committee(*, account_id: int, engaged: int, at) -> None:
    from leads.models import Account

    account = Account.objects.filter(pk=account_id).values("name", "domain", "owner_id", "owner__email").first()
    payload = {"account": account_id, "account_name": account["name"], "domain": account["domain"],
               "owner": account["owner_id"], "owner_email": account["owner__email"], "engaged_contacts": engaged,
               "at": at.isoformat(),
               "text": f"Buying committee: {engaged} contacts of {account['name']} engaged in 30 days"}
    transaction.on_commit(lambda: _enqueue("revops.notifications.send_webhook", event="account.buying_committee",
                                           payload=payload, dedupe_key=f"buying-committee:{account_id}"))


def _enqueue(func_path: str, **kwargs: Any) -> None:
    from django_q.tasks import async_task

    async_task(func_path, **kwargs)
