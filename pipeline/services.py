"""Write use-cases for deals: create, update (close-date discipline), stage moves, deal desk, stale sweep.

Every service takes keyword arguments, runs in one transaction, records who and why
(django-simple-history ``_history_user`` / ``_change_reason``) and sends notifications
only after commit. Only these services call the deal and approval transitions. The
cross-app parts of closing a deal (lead lifecycle, CS owner) live in revops.flows.deals.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leads import access
from leads.services import enqueue_on_commit, record_change

from .models import (
    OPEN_ORDER,
    TRANSITION_FOR,
    Approval,
    CloseDateChange,
    Deal,
    DealDeskConfig,
    DealStageChange,
    StageConfig,
    Task,
    stage_index,
)

STALE_MANAGER_AFTER = dt.timedelta(days=7)
# Fields a rep may edit directly (PATCH / transition payload); stage and flags never.
EDITABLE_FIELDS = (
    "name", "amount", "owner", "account", "lead", "source", "fit_score", "pain_points", "current_solution",
    "timeline", "technical_requirements", "decision_makers", "pricing", "terms", "stakeholder_map", "redlines",
    "approval_chain", "signed_contract", "payment_terms", "loss_reason", "competitor", "discount_percent", "acv",
    "term_months", "custom_terms",
)
DEAL_DESK_FIELDS = ("amount", "discount_percent", "acv", "term_months", "custom_terms")
ACTIVE_FROM_PROPOSAL = ("proposal", "negotiation")






def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _apply_fields(deal: Deal, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise ValidationError({name: "This field cannot be set here."})
        if name in ("owner", "account", "lead") and not (value is None or hasattr(value, "pk")):
            name = f"{name}_id"  # an id from the API
        setattr(deal, name, value)


# ---- stale timers -------------------------------------------------------------------------------


def stage_stale_limits() -> dict[str, dt.timedelta | None]:
    """Each open stage's stale limit: its configured days, else 2x the historical average (None when unknown)."""
    from .selectors import stage_average_seconds

    configured = dict(StageConfig.objects.values_list("stage", "stale_after_days"))
    averages = None
    limits: dict[str, dt.timedelta | None] = {}
    for stage in OPEN_ORDER:
        days = configured.get(stage)
        if days:
            limits[stage] = dt.timedelta(days=days)
            continue
        if averages is None:
            averages = stage_average_seconds()
        average = averages.get(stage)
        limits[stage] = dt.timedelta(seconds=2 * average) if average else None
    return limits


def _stale_due(stage: str, entered_at) -> dt.datetime | None:
    if stage not in OPEN_ORDER or entered_at is None:
        return None
    limit = stage_stale_limits().get(stage)
    return entered_at + limit if limit else None


# ---- create and update --------------------------------------------------------------------------


@transaction.atomic
def deal_create(*, name: str, actor=None, at=None, **fields: Any) -> Deal:
    """Open a deal in Qualified. Contact and company are required; source and fit score come from the lead.

    Raises ``ValidationError({"missing_fields": [...]})`` when Qualified's required fields stay empty.
    """
    from .models import missing_fields

    at = at or timezone.now()
    deal = Deal(name=name, stage_entered_at=at, close_date=fields.pop("close_date", None))
    _apply_fields(deal, fields)
    lead = deal.lead
    if lead is not None:
        if deal.account_id is None:
            deal.account_id = lead.account_id
        if not deal.source:
            deal.source = lead.source
        if deal.fit_score is None:
            deal.fit_score = lead.fit_score
    if deal.owner_id is None and _user(actor) is not None:
        deal.owner = actor
    missing = missing_fields(deal, "qualified")
    if missing:
        raise ValidationError({"missing_fields": missing})
    deal.stale_owner_due_at = _stale_due(deal.stage, at)
    record_change(deal, actor=actor, reason="deal created")
    deal.save()
    DealStageChange.objects.create(deal=deal, stage=deal.stage, entered_at=at, actor=_user(actor),
                                   reason="created")
    enqueue_on_commit("revops.notifications.send_webhook", event="deal.created",
                      payload=_payload(deal), dedupe_key=f"deal:{deal.pk}:created")
    return deal


@transaction.atomic
def deal_update(*, deal: Deal, actor=None, close_date=None, close_date_reason: str = "", at=None,
                **fields: Any) -> Deal:
    """Edit a deal's data. Moving the close date needs a reason, is recorded and later dates count as pushes.

    Two or more pushes set ``forecast_review`` (seed 001 Opportunity-to-Close SLA). Deal-desk
    inputs changed while in Proposal or Negotiation are checked again for approvals.
    """
    at = at or timezone.now()
    reasons = []
    if "close_date" in fields:
        close_date = fields.pop("close_date")
    if close_date is not None and close_date != deal.close_date:
        reasons.append(_change_close_date(deal=deal, new=close_date, reason=close_date_reason, actor=actor, at=at))
    desk_changed = any(k in fields and fields[k] != getattr(deal, k) for k in DEAL_DESK_FIELDS)
    _apply_fields(deal, fields)
    if fields:
        reasons.append("edited " + ", ".join(sorted(fields)))
    record_change(deal, actor=actor, reason="; ".join(reasons) or "edited")
    deal.save()
    if desk_changed and deal.stage in ACTIVE_FROM_PROPOSAL:
        deal_request_approvals(deal=deal, actor=actor, at=at)
    return deal


def _change_close_date(*, deal: Deal, new, reason: str, actor, at) -> str:
    """Record a close-date change; later dates are pushes. The first date needs no reason."""
    if deal.stage in Deal.CLOSED:
        raise ValidationError({"close_date": "A closed deal's close date cannot change."})
    reason = (reason or "").strip()
    if deal.close_date is not None and not reason:
        raise ValidationError({"close_date_reason": "Changing the close date needs a reason."})
    is_push = deal.close_date is not None and new > deal.close_date
    CloseDateChange.objects.create(deal=deal, old_date=deal.close_date, new_date=new, is_push=is_push,
                                   reason=reason or "first close date", actor=_user(actor), at=at)
    deal.close_date = new
    if is_push:
        deal.close_date_pushes += 1
        if deal.close_date_pushes >= 2:
            deal.forecast_review = True
    return f"close date {new}: {reason}" if reason else f"close date {new}"


# ---- deal desk ------------------------------------------------------------------------------------


def deal_desk_requirements(*, deal: Deal, config: DealDeskConfig | None = None) -> list[tuple[str, str, str]]:
    """Seed 001 approval tiers for the deal's current terms: ``[(tier, exception, text), ...]`` (pure)."""
    config = config or DealDeskConfig.current()
    T, E = Approval.Tier, Approval.ExceptionKind
    needs: list[tuple[str, str, str]] = []
    discount = Decimal(deal.discount_percent or 0)
    if discount >= config.deal_desk_discount_pct:
        needs.append((T.DEAL_DESK, E.DISCOUNT, f"{discount.normalize():f}% discount"))
    elif discount >= config.vp_discount_pct:
        needs.append((T.VP, E.DISCOUNT, f"{discount.normalize():f}% discount"))
    elif discount >= config.manager_discount_pct:
        needs.append((T.MANAGER, E.DISCOUNT, f"{discount.normalize():f}% discount"))
    if (deal.custom_terms or "").strip():
        needs.append((T.DEAL_DESK, E.CUSTOM_TERMS, deal.custom_terms.strip()))
    if deal.effective_acv > config.acv_threshold:
        needs.append((T.DEAL_DESK, E.LARGE_ACV, f"ACV {deal.effective_acv:.0f} above {config.acv_threshold:.0f}"))
    if (deal.term_months or 12) > config.multi_year_months:
        text = f"{deal.term_months}-month contract"
        needs.append((T.FINANCE, E.MULTI_YEAR, text))
        needs.append((T.LEGAL, E.MULTI_YEAR, text))
    return needs


def _terms_key(deal: Deal) -> str:
    return (f"discount={Decimal(deal.discount_percent or 0):.2f};acv={deal.effective_acv:.2f};"
            f"months={deal.term_months};custom={(deal.custom_terms or '').strip()}")[:500]


def _unmet(deal: Deal) -> tuple[list[tuple[str, str, str]], str]:
    key = _terms_key(deal)
    approved = set(
        Approval.objects.filter(deal=deal, state=Approval.State.APPROVED, terms_key=key)
        .values_list("tier", "exception")
    )
    return [r for r in deal_desk_requirements(deal=deal) if (r[0], r[1]) not in approved], key


def approvals_pending(*, deal: Deal) -> bool:
    """True when the deal's current terms need an approval that has not been granted."""
    unmet, _ = _unmet(deal)
    return bool(unmet)


@transaction.atomic
def deal_request_approvals(*, deal: Deal, actor=None, at=None) -> list[Approval]:
    """Open a pending approval for each tier the current terms need (each one a recorded exception).

    Pending requests for older terms are superseded. Sets ``needs_approval`` and alerts the
    approvers (webhook) after commit. Idempotent for unchanged terms.
    """
    at = at or timezone.now()
    unmet, key = _unmet(deal)
    wanted = {(tier, exc) for tier, exc, _ in unmet}
    for stale in Approval.objects.filter(deal=deal, state=Approval.State.PENDING).select_for_update():
        if stale.terms_key != key or (stale.tier, stale.exception) not in wanted:
            stale.supersede(at=at)
            record_change(stale, actor=actor, reason="terms changed")
            stale.save()
    existing = set(Approval.objects.filter(deal=deal, state=Approval.State.PENDING, terms_key=key)
                   .values_list("tier", "exception"))
    created = []
    for tier, exc, text in unmet:
        if (tier, exc) in existing:
            continue
        approval = Approval(deal=deal, tier=tier, exception=exc, exception_text=text, terms_key=key,
                            approver_role=Approval.APPROVER_ROLE[tier], requested_by=_user(actor))
        record_change(approval, actor=actor, reason="approval requested")
        approval.save()
        created.append(approval)
    needs = bool(unmet)
    if deal.needs_approval != needs:
        Deal.objects.filter(pk=deal.pk).update(needs_approval=needs)
        deal.needs_approval = needs
    if created:
        enqueue_on_commit("revops.notifications.send_webhook", event="deal.approval_requested",
                          payload={**_payload(deal), "approvals": [
                              {"id": a.pk, "tier": a.tier, "approver_role": a.approver_role,
                               "exception": a.exception, "text": a.exception_text} for a in created]},
                          dedupe_key=f"deal:{deal.pk}:approvals:{'-'.join(str(a.pk) for a in created)}")
    return created


def can_decide(*, user, approval: Approval) -> bool:
    """Role mapping: manager tier -> the owner's manager (Rep role manager) or VP Sales; VP -> group
    "VP Sales"; deal desk -> "Deal Desk"; finance -> "Finance"; legal -> "Legal". Superusers decide all."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    groups = set(user.groups.values_list("name", flat=True))
    tier = approval.tier
    if tier == Approval.Tier.MANAGER:
        if "VP Sales" in groups:
            return True
        rep = access.rep_of(user)
        if rep is None or not rep.active or rep.role != "manager":
            return False
        owner_rep = access.rep_of(approval.deal.owner) if approval.deal.owner_id else None
        if owner_rep is None:
            return False
        return owner_rep.manager_id == rep.pk or (rep.team_id is not None and owner_rep.team_id == rep.team_id)
    return Approval.APPROVER_ROLE[tier] in groups


def _pick_approval(*, deal: Deal, approval_id=None, tier: str | None = None) -> Approval:
    pending = Approval.objects.filter(deal=deal, state=Approval.State.PENDING)
    if approval_id is not None:
        approval = Approval.objects.filter(deal=deal, pk=approval_id).first()
        if approval is None:
            raise ValidationError({"approval": "No such approval on this deal."})
        return approval
    if tier:
        pending = pending.filter(tier=tier)
    found = list(pending[:2])
    if not found:
        raise ValidationError({"approval": "No pending approval" + (f" for tier {tier!r}." if tier else ".")})
    if len(found) > 1:
        raise ValidationError({"approval": "Several approvals are pending; name one by id."})
    return found[0]


@transaction.atomic
def approval_decide(*, deal: Deal, actor, approve: bool, approval_id=None, tier: str | None = None,
                    note: str = "", at=None) -> Approval:
    """Approve or reject one pending approval of a deal; only the tier's approver role may (403 otherwise).

    Approving the last one clears ``needs_approval``. Raises ``TransitionNotAllowed`` (409) when the
    approval was already decided.
    """
    at = at or timezone.now()
    approval = _pick_approval(deal=deal, approval_id=approval_id, tier=tier)
    approval.deal = deal
    if not can_decide(user=actor, approval=approval):
        raise PermissionDenied(f"Only {approval.approver_role} may decide this approval.")
    if approve:
        approval.approve(by=actor, at=at, note=note)
    else:
        approval.reject(by=actor, at=at, note=note)
    record_change(approval, actor=actor, reason=("approved" if approve else "rejected") + (f": {note}" if note else ""))
    approval.save()
    needs = approvals_pending(deal=deal)
    if deal.needs_approval != needs:
        Deal.objects.filter(pk=deal.pk).update(needs_approval=needs)
        deal.needs_approval = needs
    enqueue_on_commit("revops.notifications.send_webhook",
                      event="deal.approval_" + ("approved" if approve else "rejected"),
                      payload={**_payload(deal), "approval": approval.pk, "tier": approval.tier, "note": note},
                      dedupe_key=f"approval:{approval.pk}:{approval.state}")
    return approval


# ---- stage moves ----------------------------------------------------------------------------------


def _payload(deal: Deal) -> dict:
    return {"deal": deal.pk, "name": deal.name, "stage": deal.stage, "owner": deal.owner_id,
            "amount": str(deal.amount), "flags": deal.flags}


@transaction.atomic
def deal_transition(*, deal: Deal, to: str, actor=None, reason: str = "", fields: dict | None = None,
                    at=None) -> Deal:
    """Move a deal to stage ``to`` after setting ``fields``; records the stint, flags skips, restarts timers.

    Raises ``ValidationError`` (400: ``missing_fields``, a backward move without ``reason``, pending
    approvals), ``TransitionNotAllowed`` (409: closed deals, same stage) or ``ConcurrentTransition``
    (409: someone else moved it first — nothing is written). Closing a deal should go through
    revops.flows.deals, which calls this and then runs the customer / recycling handoff.
    """
    if to not in TRANSITION_FOR:
        raise ValidationError({"to": f"Unknown stage {to!r}."})
    at = at or timezone.now()
    old = deal.stage
    fields = dict(fields or {})
    new_date, date_reason = fields.pop("close_date", None), fields.pop("close_date_reason", "")
    if new_date is not None and new_date != deal.close_date:
        _change_close_date(deal=deal, new=new_date, reason=date_reason, actor=actor, at=at)
    if fields:
        _apply_fields(deal, fields)
    pending = to in ("negotiation", "closed_won") and approvals_pending(deal=deal)
    method = getattr(deal, TRANSITION_FOR[to])
    method(at=at, reason=reason, approvals_pending=pending)
    backward = old in OPEN_ORDER and to in OPEN_ORDER and stage_index(to) < stage_index(old)
    skipped = _skipped(old, to)
    if to in OPEN_ORDER:
        deal.stale_owner_due_at = _stale_due(to, at)
    why = reason or f"{old} -> {to}"
    record_change(deal, actor=actor, reason=why)
    # Save first: ConcurrentTransitionMixin's conditional UPDATE fails here if another request won.
    deal.save()
    open_stint = DealStageChange.objects.filter(deal=deal, left_at__isnull=True).first()
    if open_stint is not None:
        open_stint.left_at = at
        open_stint.duration_seconds = max(0, int((at - open_stint.entered_at).total_seconds()))
        open_stint.save(update_fields=["left_at", "duration_seconds"])
    DealStageChange.objects.create(deal=deal, from_stage=old, stage=to, entered_at=at, backward=backward,
                                   skipped=skipped, reason=reason, actor=_user(actor))
    if to == "proposal":
        # Seed 001: entering Proposal alerts the deal desk for large ACV / non-standard terms.
        deal_request_approvals(deal=deal, actor=actor, at=at)
    enqueue_on_commit("revops.notifications.send_webhook", event="deal.stage_changed",
                      payload={**_payload(deal), "from": old, "to": to, "skipped": skipped, "backward": backward,
                               "reason": reason},
                      dedupe_key=f"deal:{deal.pk}:stage:{old}:{to}:{at.isoformat()}")
    if skipped:
        enqueue_on_commit("revops.jobs.alert_stage_skipped", deal_id=deal.pk, skipped=skipped,
                          from_stage=old, to_stage=to, at=at.isoformat())
    return deal


def _skipped(old: str, to: str) -> list[str]:
    if old not in OPEN_ORDER or to == "closed_lost":
        return []
    target = len(OPEN_ORDER) if to == "closed_won" else stage_index(to)
    return list(OPEN_ORDER[stage_index(old) + 1:target])


# ---- closing helpers used by revops.flows.deals ----------------------------------------------------


def task_complete(*, task: Task, actor, at=None) -> Task:
    """Mark a task done once (a second click or a retried request changes nothing); recorded in history."""
    at = at or timezone.now()
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task.pk)
        if task.completed_at is None:
            task.completed_at = at
            record_change(task, actor=actor, reason="completed")
            task.save(update_fields=["completed_at", "updated_at"])
    return task


def task_create_once(*, kind: str, title: str, owner_id, due_at, dedupe_key: str, deal: Deal | None = None,
                     lead=None) -> Task:
    """Create a task unless one with ``dedupe_key`` exists (a retried handoff finds the one it made)."""
    existing = Task.objects.filter(dedupe_key=dedupe_key).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return Task.objects.create(kind=kind, title=title, owner_id=owner_id, due_at=due_at,
                                       dedupe_key=dedupe_key, deal=deal, lead=lead)
    except IntegrityError:
        return Task.objects.get(dedupe_key=dedupe_key)


@transaction.atomic
def deal_set_cs_owner(*, deal: Deal, cs_owner, actor=None) -> Deal:
    deal.cs_owner = cs_owner
    record_change(deal, actor=actor, reason=f"CS owner {cs_owner}")
    deal.save()
    return deal


# ---- stale sweeper ---------------------------------------------------------------------------------


def refresh_stale_due(*, now=None) -> int:
    """Give open deals in stages without a fixed limit a due time of entry + 2x the stage's average.

    Needed because the average only exists once history does. One UPDATE per stage (set-based).
    """
    limits = stage_stale_limits()
    configured = set(StageConfig.objects.filter(stale_after_days__isnull=False).values_list("stage", flat=True))
    from django.db.models import F

    changed = 0
    for stage, limit in limits.items():
        if limit is None or stage in configured:
            continue
        changed += Deal.objects.filter(stage=stage, stale_owner_at__isnull=True, stage_entered_at__isnull=False,
                                       stale_owner_due_at__isnull=True).update(
            stale_owner_due_at=F("stage_entered_at") + limit)
    return changed


def _claim(queryset, *, now, step: str, batch_size: int) -> tuple[str, list[int]]:
    token = uuid.uuid4().hex
    done_null = {f"stale_{step}_at__isnull": True}
    update: dict[str, Any] = {f"stale_{step}_at": now, "stale_claim": token, "stale": True}
    if step == "owner":
        update["stale_manager_due_at"] = now + STALE_MANAGER_AFTER
    batch = queryset.order_by(f"stale_{step}_due_at", "pk").values("pk")[:batch_size]
    # The conditional UPDATE is the claim: a deal another sweeper already took no longer matches.
    claimed = Deal.objects.filter(pk__in=batch, **done_null).update(**update)
    if not claimed:
        return "", []
    return token, list(Deal.objects.filter(stale_claim=token).values_list("pk", flat=True))


def _insert_stale_tasks(*, token: str, step: str, now) -> None:
    """One INSERT ... SELECT for the whole claimed batch (bulk_create splits into chunks on SQLite).

    The manager comes from the owner's sales profile (``User.rep``), read by relation name like
    leads.access does, so this app imports nothing from routing. ``ON CONFLICT DO NOTHING`` on the
    unique ``dedupe_key`` makes a replay harmless.
    """
    q = connection.ops.quote_name
    if step == "owner":
        target, join, suffix = "d.owner_id", "", ""
    else:
        rep = get_user_model()._meta.get_field("rep").related_model
        target = f"r.{q(rep._meta.get_field('manager').column)}"
        join = f"JOIN {q(rep._meta.db_table)} r ON r.{q(rep._meta.pk.column)} = d.owner_id"
        suffix = " (escalated: 7 days after the owner's alert)"
    stamp = connection.ops.adapt_datetimefield_value(now)
    sql = (
        f"INSERT INTO {q(Task._meta.db_table)} (created_at, updated_at, kind, title, deal_id, owner_id, due_at, "
        f"dedupe_key) SELECT %s, %s, %s, CAST(%s AS VARCHAR(50)) || d.name || CAST(%s AS VARCHAR(100)), d.id, "
        f"{target}, %s, CAST(%s AS VARCHAR(50)) || CAST(d.id AS VARCHAR(20)) || CAST(%s AS VARCHAR(100)) "
        f"FROM {q(Deal._meta.db_table)} d {join} WHERE d.stale_claim = %s AND {target} IS NOT NULL "
        f"ON CONFLICT DO NOTHING"
    )
    params = [stamp, stamp, Task.Kind.STALE_DEAL, "Update stale deal: ", suffix, stamp, "deal:",
              f":stale:{step}:{token}", token]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def sweep_stale_deals(*, now, batch_size: int = 1000) -> dict[str, int]:
    """One pass of the stale-deal sweeper (controlled clock: ``now`` is an argument).

    Step 1: past the stage's due time -> ``stale`` flag and a task for the owner. Step 2: seven days
    later and still in the stage -> a task for the owner's manager. Each step happens once per stint,
    even with two sweepers at once; the number of queries per batch does not depend on the batch size.
    """
    refresh_stale_due(now=now)
    result = {"owner": 0, "manager": 0}
    for step, queryset in (("owner", Deal.objects.stale_owner_due(now)),
                           ("manager", Deal.objects.stale_manager_due(now).filter(stale_owner_at__isnull=False))):
        while True:
            with transaction.atomic():
                token, rows = _claim(queryset, now=now, step=step, batch_size=batch_size)
                if not token:
                    break
                _insert_stale_tasks(token=token, step=step, now=now)
                # One notification job per batch, not per deal.
                enqueue_on_commit("revops.jobs.notify_stale_batch", deal_ids=rows, step=step, token=token)
            result[step] += len(rows)
            if len(rows) < batch_size:
                break
    return result


def users_by_id(ids) -> dict:
    return get_user_model().objects.in_bulk(list(ids))
