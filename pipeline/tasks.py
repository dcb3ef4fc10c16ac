"""django-q2 entry points of the pipeline app: primitive arguments, re-fetch, idempotent."""

from __future__ import annotations

from django.utils import timezone

from .models import Deal


def sweep_stale_deals_task(now: str | None = None) -> dict:
    """Scheduled: one pass of the stale-deal sweeper at the current time."""
    from .services import sweep_stale_deals

    at = timezone.now() if now is None else timezone.datetime.fromisoformat(now)
    return sweep_stale_deals(now=at)


def notify_stale_batch(*, deal_ids: list[int], step: str, token: str) -> int:
    """Email the owner (step "owner") or the owner's manager (step "manager") for each claimed deal."""
    from revops.notifications import send_email, send_webhook

    deals = list(Deal.objects.filter(pk__in=deal_ids).select_related("owner", "owner__rep__manager__user"))
    sent = 0
    for deal in deals:
        if step == "owner":
            person = deal.owner
        else:
            manager = getattr(getattr(deal.owner, "rep", None), "manager", None) if deal.owner else None
            person = manager.user if manager else None
        if person is not None and person.email:
            sent += send_email(to=person.email, subject=f"Stale deal: {deal.name}",
                               body=f"{deal.name} has been in {deal.get_stage_display()} since "
                                    f"{deal.stage_entered_at:%Y-%m-%d}. Update it or move it.",
                               event=f"deal.stale.{step}", dedupe_key=f"deal:{deal.pk}:stale:{step}:{token}")
    send_webhook(event=f"deal.stale.{step}", payload={"deals": deal_ids, "step": step},
                 dedupe_key=f"stale:{step}:{token}")
    return sent


def alert_stage_skipped(*, deal_id: int, skipped: list[str], from_stage: str, to_stage: str, at: str) -> bool:
    """Tell the owner's manager (email) and the tools (webhook) that a deal jumped stages."""
    from revops.notifications import send_email, send_webhook

    deal = Deal.objects.select_related("owner", "owner__rep__manager__user").filter(pk=deal_id).first()
    if deal is None:
        return False
    key = f"deal:{deal_id}:skip:{from_stage}:{to_stage}:{at}"
    manager = getattr(getattr(deal.owner, "rep", None), "manager", None) if deal.owner else None
    if manager is not None and manager.user.email:
        send_email(to=manager.user.email, subject=f"Stage skipped: {deal.name}",
                   body=f"{deal.name} moved from {from_stage} to {to_stage}, skipping {', '.join(skipped)}.",
                   event="deal.stage_skipped", dedupe_key=key)
    send_webhook(event="deal.stage_skipped",
                 payload={"deal": deal_id, "from": from_stage, "to": to_stage, "skipped": skipped,
                          "manager": manager.pk if manager else None},
                 dedupe_key=key)
    return True
