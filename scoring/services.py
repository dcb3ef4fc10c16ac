"""Write use-cases of scoring: model versions and activation, rescoring leads, account scores.

Scoring only: these services compute and store scores, breakdowns, MQL criteria and suppression.
Moving a lead to MQL and the handoff are orchestrated by ``revops.flows.events``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from leads.models import EmailDomainKind, Lead
from leads.services import enqueue_on_commit, record_change

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
SNAPSHOT_FIELDS = [name for name in SCORE_FIELDS if name != "scored_at"]
EDITABLE_FIELDS = ("name", "segment", "description", *ScoringModel.JSON_FIELDS, *ScoringModel.SETTING_FIELDS)


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
    record_change(model, actor=actor, reason=f"draft v{model.version}")
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
    record_change(model, actor=actor, reason="draft edited")
    model.save()
    return model


@transaction.atomic
def scoring_model_activate(*, model: ScoringModel, actor=None, note: str = "") -> tuple[ScoringModel, RescoreJob]:
    """Make ``model`` the one active model of its segment (retiring the previous one) and queue the
    rescoring of its segment as a ``RescoreJob``.

    Running the job can make MQLs, which routing hands off: ``revops.flows.scoring`` runs it
    (inline for small segments, in the background otherwise). Call that flow, not this service alone.
    """
    model = ScoringModel.objects.select_for_update().get(pk=model.pk)
    now = timezone.now()
    if model.status == ScoringModel.Status.ACTIVE:
        raise ValidationError({"status": ["This model is already active."]})
    model.full_clean(exclude=["created_by", "approved_by"])
    for previous in ScoringModel.objects.select_for_update().filter(segment=model.segment,
                                                                    status=ScoringModel.Status.ACTIVE):
        previous.status, previous.retired_at = ScoringModel.Status.RETIRED, now
        record_change(previous, actor=actor, reason=f"retired by {model.label}")
        previous.save()
    model.status, model.activated_at, model.retired_at = ScoringModel.Status.ACTIVE, now, None
    model.approved_by = actor if getattr(actor, "is_authenticated", False) else None
    model.approval_note = note or model.approval_note
    record_change(model, actor=actor, reason=f"activated: {note}" if note else "activated")
    model.save()

    total = selectors.lead_ids_for_segment(model.segment).count()
    job = RescoreJob.objects.create(scoring_model=model, segment=model.segment, total=total,
                                    trigger=ScoreChange.Trigger.ACTIVATION)
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


def _lead_values(lead: Lead) -> dict[str, Any]:
    """What scoring reads of a lead instance: the same keys as a ``selectors.lead_rows`` row."""
    values = lead_attrs(lead)
    values.update(lifecycle_stage=lead.lifecycle_stage, do_not_contact=lead.do_not_contact,
                  opted_out=lead.opted_out, hard_bounced=lead.hard_bounced, spam_complaint=lead.spam_complaint)
    return values


def suppression_reason_for(lead: Lead, *, domain_kind: str, deal_flags: set[str]) -> str:
    """Why this lead may not become MQL (SPEC §4), or ''. The first reason in this order is recorded."""
    return _suppression_reason(_lead_values(lead), domain_kind=domain_kind, deal_flags=deal_flags)


def _suppression_reason(values: dict[str, Any], *, domain_kind: str, deal_flags: set[str]) -> str:
    if values["do_not_contact"]:
        return "do_not_contact"
    if values["opted_out"]:
        return "opted_out"
    if values["hard_bounced"]:
        return "hard_bounce"
    if values["spam_complaint"]:
        return "spam_complaint"
    if domain_kind == EmailDomainKind.COMPETITOR:
        return "competitor"
    if domain_kind == EmailDomainKind.INTERNAL:
        return "internal"
    if values["lifecycle_stage"] in (Lead.Stage.CUSTOMER, Lead.Stage.EVANGELIST) or "customer" in deal_flags:
        return "customer"
    if "active_deal" in deal_flags:
        return "active_deal"
    return ""


def _compute(*, model: ScoringModel | None, model_dict: dict | None, values: dict[str, Any], account: dict,
             events: list[tuple], deal_flags: set[str], at) -> tuple[engine.ScoreResult | None, dict[str, Any]]:
    """The new values of ``SCORE_FIELDS`` for one lead (pure: no database access)."""
    if model is None:
        result, fit, engagement, breakdown, criteria, version = None, 0, 0, [], False, ""
        domain_kind = values["email_domain_kind"]
    else:
        result = engine.score(model_dict, values, account, events, at)
        fit, engagement, breakdown = result.fit, result.engagement, result.breakdown
        criteria, version = result.qualifies, model.label
        domain_kind = engine.email_domain_kind(values, model_dict)
    return result, {
        "fit_score": fit, "engagement_score": engagement, "score": fit + engagement, "score_breakdown": breakdown,
        "scored_at": at, "scoring_model_version": version, "mql_criteria_met": criteria,
        "suppression_reason": _suppression_reason(values, domain_kind=domain_kind, deal_flags=deal_flags),
        "email_domain_kind": domain_kind,
    }


def _apply(lead: Lead, *, model: ScoringModel | None, model_dict: dict | None, events: list[tuple],
           deal_flags: set[str], at) -> tuple[engine.ScoreResult | None, ScoreChange | None]:
    """Compute and set the score fields on ``lead`` (no save). Returns the result and an unsaved change row."""
    old = (lead.fit_score, lead.engagement_score, lead.score)
    result, new = _compute(model=model, model_dict=model_dict, values=_lead_values(lead),
                           account=account_attrs(lead), events=events, deal_flags=deal_flags, at=at)
    for name, value in new.items():
        setattr(lead, name, value)
    change = None
    if old != (lead.fit_score, lead.engagement_score, lead.score):
        change = ScoreChange(lead=lead, scoring_model=model, at=at, old_fit=old[0], old_engagement=old[1],
                             old_score=old[2], new_fit=lead.fit_score, new_engagement=lead.engagement_score,
                             new_score=lead.score)
    return result, change


def _snapshot(lead: Lead) -> tuple:
    return tuple(getattr(lead, name) for name in SNAPSHOT_FIELDS)


@transaction.atomic(savepoint=False)
def lead_rescore(*, lead: Lead, at=None, trigger: str = ScoreChange.Trigger.EVENT, event=None, actor=None,
                 models: dict[str, ScoringModel] | None = None, save_fields: tuple[str, ...] = (),
                 deal_flags: set[str] | None = None) -> engine.ScoreResult | None:
    """Rescore one lead with the active model of its segment and store score, breakdown and history.

    Runs a fixed number of queries whatever the lead's history: the active models, the events the
    score can still read (``selectors.events_for_lead``), the lead's deals (unless the caller read
    ``deal_flags`` already, see ``selectors.deal_flag_annotations``), then the writes.
    ``save_fields`` are other lead fields the caller changed and wants saved in the same write.
    A ``ScoreChange`` row (old, new, the event that caused it) is written when the score changes.
    """
    at = at or timezone.now()
    model = selectors.model_for_segment(lead.segment, models)
    model_dict = engine.compile_model(model.as_engine_dict()) if model else None
    events = selectors.events_for_lead(model=model_dict, lead=lead, at=at) if model else []
    flags = selectors.deal_flags_for_leads([lead])[lead.pk] if deal_flags is None else deal_flags
    before = _snapshot(lead)
    result, change = _apply(lead, model=model, model_dict=model_dict, events=events, deal_flags=flags, at=at)
    if before != _snapshot(lead) or save_fields:
        record_change(lead, actor=actor, reason=f"score {change.old_score} -> {change.new_score}" if change
                else "rescored")
        lead.save(update_fields=[*SCORE_FIELDS, *save_fields, "updated_at"])
    if change is not None:
        change.trigger, change.event = trigger, event
        change.save()
    return result


# ---------------------------------------------------------------- many leads, set-based

# The lead columns a set-based rescoring writes (scores plus what an event changes on the lead).
ROW_TOUCH_FIELDS = ["opted_out", "hard_bounced", "spam_complaint", "last_engaged_at", "updated_at"]
ROW_WRITE_FIELDS = [*SCORE_FIELDS, *ROW_TOUCH_FIELDS]


def lead_rows_rescore(*, rows: list[dict], at, trigger: str, models: dict[str, ScoringModel] | None = None,
                      event_for_lead: dict[int, int] | None = None, actor=None) -> tuple[list[dict], int]:
    """Rescore many leads given as ``selectors.lead_rows`` rows, set-based; returns ``(qualifying rows, changes)``.

    One query for the events of all of them (each bounded by its model's horizons), the pure engine
    per lead in Python, then one UPDATE statement for the rows whose scores changed and one (fewer
    columns) for those the caller only marked ``_dirty`` (event flags, last engaged time), one
    INSERT ... SELECT for history rows (score changes and rows marked ``_history``) and one bulk
    INSERT of ``ScoreChange`` rows
    (``event_for_lead``: the event that caused each lead's change). Qualifying rows are at
    ``lead``/``recycled``, meet the criteria (or fast-track) and are not suppressed; moving them to MQL is
    the caller's (``revops.flows.events``). The rows are updated in place with the new values.
    """
    models = selectors.active_models() if models is None else models
    groups: dict[int | None, tuple[ScoringModel | None, dict | None, list[dict]]] = {}
    for row in rows:
        model = selectors.model_for_segment(row["segment"], models)
        key = model.pk if model else None
        if key not in groups:
            groups[key] = (model, engine.compile_model(model.as_engine_dict()) if model else None, [])
        groups[key][2].append(row)
    events = selectors.events_for_rows(
        groups=[(model_dict, [r["id"] for r in group]) for model, model_dict, group in groups.values() if model],
        at=at)
    dirty, touched, history_ids, changes, qualifying = [], [], [], [], []
    event_for_lead = event_for_lead or {}
    for model, model_dict, group in groups.values():
        for row in group:
            before = tuple(row[name] for name in SNAPSHOT_FIELDS)
            old = (row["fit_score"], row["engagement_score"], row["score"])
            _, new = _compute(model=model, model_dict=model_dict, values=row, account=row["account"],
                              events=events.get(row["id"], ()), deal_flags=row["deal_flags"], at=at)
            row.update(new)
            snapshot_changed = before != tuple(row[name] for name in SNAPSHOT_FIELDS)
            if snapshot_changed:
                dirty.append(row)
            elif row.get("_dirty"):
                touched.append(row)
            if snapshot_changed or row.get("_history"):
                history_ids.append(row["id"])
            if old != (new["fit_score"], new["engagement_score"], new["score"]):
                changes.append(ScoreChange(
                    lead_id=row["id"], event_id=event_for_lead.get(row["id"]), scoring_model=model,
                    trigger=trigger, at=at, old_fit=old[0], old_engagement=old[1], old_score=old[2],
                    new_fit=new["fit_score"], new_engagement=new["engagement_score"], new_score=new["score"]))
            if (row["lifecycle_stage"] in QUALIFIABLE_STAGES and row["mql_criteria_met"]
                    and not row["suppression_reason"]):
                qualifying.append(row)
    if dirty:
        _rows_write(dirty, ROW_WRITE_FIELDS, at=at)
    if touched:  # scores as they were: only what the events changed (no breakdown to encode, no index on it)
        _rows_write(touched, ROW_TOUCH_FIELDS, at=at)
    if history_ids:
        leads_history_copy(history_ids, actor=actor, reason=f"rescored ({trigger})")
    if changes:
        ScoreChange.objects.bulk_create(changes, batch_size=BATCH_SIZE)
    return qualifying, len(changes)


def leads_rescore(*, lead_ids: list[int], at=None, trigger: str = ScoreChange.Trigger.DECAY, actor=None,
                  models: dict[str, ScoringModel] | None = None, events_by_key: dict | None = None
                  ) -> tuple[list[int], int]:
    """Rescore many leads in batches (one transaction each, the leads locked): a few queries per batch.

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
            rows = selectors.lead_rows(Q(pk__in=lead_ids[start : start + BATCH_SIZE]), lock=True)
            ready, changed = lead_rows_rescore(rows=rows, at=at, trigger=trigger, models=models,
                                               event_for_lead=events_by_key, actor=actor)
            qualifying.extend(row["id"] for row in ready)
            changed_count += changed
    return qualifying, changed_count


def _rows_write(rows: list[dict], fields: list[str], *, at) -> None:
    """One UPDATE statement for all rows (``_executemany_update``)."""
    for row in rows:
        row["updated_at"] = at
    _executemany_update(fields, [[row[name] for name in fields] + [row["id"]] for row in rows])


def _executemany_update(fields: list[str], values: list[list]) -> None:
    """``UPDATE lead SET <fields> WHERE id = %s`` for each row of ``values`` (field values, then the id).

    Only JSON and date-time values need the backend's adaptation; the others are plain ints, strings
    and booleans already (adapting every value costs more than the UPDATE on SQLite)."""
    model_fields = [Lead._meta.get_field(name) for name in fields]
    adapt_json = [(index, field) for index, field in enumerate(model_fields)
                  if field.get_internal_type() == "JSONField"]
    adapt_time = [(index, field) for index, field in enumerate(model_fields)
                  if field.get_internal_type() == "DateTimeField"]
    times: dict = {}  # most rows share their times (scored_at, updated_at): adapt each value once
    postgresql = connection.vendor == "postgresql"
    for row in values:
        for index, field in adapt_json:
            # PostgreSQL: sent as text in a text[] and cast back (see below).
            row[index] = (json.dumps(row[index], cls=field.encoder) if postgresql and row[index] is not None
                          else field.get_db_prep_save(row[index], connection))
        for index, field in adapt_time:
            value = row[index]
            if value is not None:
                if value not in times:
                    times[value] = field.get_db_prep_save(value, connection)
                row[index] = times[value]
    quote = connection.ops.quote_name
    table = quote(Lead._meta.db_table)
    if not postgresql:
        # SQLite runs executemany in-process: one prepared statement, no round trips.
        assignments = ", ".join(f"{quote(f.column)} = %s" for f in model_fields)
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {quote('id')} = %s", values)
        return
    # PostgreSQL: Django's client-side-binding cursor sends executemany as one round trip per row and
    # merges every placeholder into the SQL text in Python, so send ONE statement with one array per
    # column: UPDATE ... FROM unnest(%s::bigint[], ...) (JSON travels as text and is cast back).
    columns = [*(f.column for f in model_fields), "id"]
    kinds = [*model_fields, Lead._meta.pk]
    arrays = [list(column) for column in zip(*values, strict=True)]
    unnest = ", ".join(f"%s::{pg_array_type(field)}[]" for field in kinds)
    assignments = ", ".join(
        f"{quote(f.column)} = v.{quote(f.column)}" + ("::jsonb" if f.get_internal_type() == "JSONField" else "")
        for f in model_fields)
    sql = (f"UPDATE {table} SET {assignments} FROM unnest({unnest}) AS v({', '.join(quote(c) for c in columns)}) "
           f"WHERE {table}.{quote('id')} = v.{quote('id')}")
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)


def pg_array_type(field) -> str:
    """The PostgreSQL element type an array of this field's values is sent as (JSON and strings as text)."""
    db_type = field.db_type(connection)
    if field.get_internal_type() == "JSONField" or db_type.startswith("varchar") or db_type == "text":
        return "text"
    return db_type


def leads_history_copy(lead_ids: list[int], *, actor=None, reason: str = "") -> None:
    """History rows (django-simple-history, type ``~``) for many leads in ONE ``INSERT ... SELECT``: the
    database copies each lead row as it stands now; nothing is built in Python per row."""
    if not lead_ids:
        return
    historical = Lead.history.model
    quote = connection.ops.quote_name
    columns = [field.column for field in historical.tracked_fields]
    user = actor.pk if getattr(actor, "is_authenticated", False) else None
    date = historical._meta.get_field("history_date").get_db_prep_save(timezone.now(), connection)
    for start in range(0, len(lead_ids), _param_limit() - 8):
        ids = lead_ids[start : start + _param_limit() - 8]
        names = ", ".join(quote(c) for c in columns)
        sql = (f"INSERT INTO {quote(historical._meta.db_table)} ({names}, {quote('history_date')}, "
               f"{quote('history_change_reason')}, {quote('history_type')}, {quote('history_user_id')}) "
               f"SELECT {names}, %s, %s, %s, %s FROM {quote(Lead._meta.db_table)} "
               f"WHERE {quote('id')} IN ({', '.join(['%s'] * len(ids))})")
        with connection.cursor() as cursor:
            cursor.execute(sql, [date, reason[:100] or None, "~", user, *ids])


def _param_limit() -> int:
    """Bound parameters one statement may carry: SQLite's real compile-time limit (Django assumes 999)."""
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return 65535


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
    when 3+ contacts engaged within 30 days (webhook to the account owner, on commit). Returns alerted ids.

    Set-based: one ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE ... RETURNING`` upserts
    every account's score; only when an account reaches the committee size without an alert, one more
    ``UPDATE ... RETURNING`` claims the alerts (exactly once, even with concurrent writers).
    """
    at = at or timezone.now()
    account_ids = sorted({a for a in account_ids if a})
    if not account_ids:
        return []
    quote = connection.ops.quote_name
    lead_table, score_table = quote(Lead._meta.db_table), quote(AccountScore._meta.db_table)
    now = _datetime_param(timezone.now())
    since = _datetime_param(at - ENGAGED_WINDOW)
    candidates = []
    step = _param_limit() - 8
    for start in range(0, len(account_ids), step):
        ids = account_ids[start : start + step]
        sql = (f"INSERT INTO {score_table} (account_id, engagement_score, engaged_contacts, committee_alerted_at, "
               f"updated_at) SELECT account_id, COALESCE(SUM(engagement_score), 0), "
               f"SUM(CASE WHEN engagement_score > 0 AND last_engaged_at >= %s THEN 1 ELSE 0 END), NULL, %s "
               f"FROM {lead_table} WHERE account_id IN ({', '.join(['%s'] * len(ids))}) GROUP BY account_id "
               f"ON CONFLICT (account_id) DO UPDATE SET engagement_score = excluded.engagement_score, "
               f"engaged_contacts = excluded.engaged_contacts, updated_at = excluded.updated_at "
               f"RETURNING account_id, engaged_contacts, committee_alerted_at")
        with connection.cursor() as cursor:
            cursor.execute(sql, [since, now, *ids])
            candidates += [(row[0], row[1]) for row in cursor.fetchall()
                           if row[1] >= BUYING_COMMITTEE_SIZE and row[2] is None]
    if not candidates:
        return []
    engaged = dict(candidates)
    ids = sorted(engaged)
    sql = (f"UPDATE {score_table} SET committee_alerted_at = %s WHERE committee_alerted_at IS NULL "
           f"AND account_id IN ({', '.join(['%s'] * len(ids))}) RETURNING account_id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [_datetime_param(at), *ids])
        alerted = sorted(row[0] for row in cursor.fetchall())
    _alert_buying_committee(engaged={a: engaged[a] for a in alerted}, at=at)
    return alerted


def _datetime_param(value):
    return AccountScore._meta.get_field("updated_at").get_db_prep_save(value, connection)


def _alert_buying_committee(*, engaged: dict[int, int], at) -> None:
    from leads.models import Account

    if not engaged:
        return
    accounts = Account.objects.filter(pk__in=list(engaged)).values("pk", "name", "domain", "owner_id",
                                                                   "owner__email")
    alerts = []
    for account in accounts.order_by("pk"):
        account_id, count = account["pk"], engaged[account["pk"]]
        alerts.append({"account": account_id, "account_name": account["name"], "domain": account["domain"],
                       "owner": account["owner_id"], "owner_email": account["owner__email"],
                       "engaged_contacts": count, "at": at.isoformat(),
                       "text": f"Buying committee: {count} contacts of {account['name']} engaged in 30 days"})
    # One task for all the alerts of this transaction: each enqueue is a commit of its own.
    enqueue_on_commit("revops.jobs.send_buying_committee_alerts", alerts=alerts)
