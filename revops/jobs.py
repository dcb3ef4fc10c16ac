"""Every django-q2 entry point, at the top layer: schedules and ``async_task`` name these by dotted
path (``revops.jobs.<name>``). Each takes primitive arguments, re-fetches, calls a service or a
flow, and is idempotent (STYLE rule 8)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from leads.recycling import sweep_recycle_dates, sweep_recycling_expiry
from pipeline.models import Deal
from pipeline.services import sweep_stale_deals
from revops.flows.events import leads_rescore_and_qualify
from revops.flows.scoring import rescore_job_run  # noqa: F401 - entry point by dotted path
from revops.notifications import retry_due_webhooks, send_email, send_webhook
from routing.services import sla_sweep
from scoring.models import RescoreJob, ScoreChange
from scoring.services import leads_with_decay_due

# ---- routing -----------------------------------------------------------------------------------


def sweep_sla() -> dict:
    """The one scheduled SLA sweeper (every minute): fires each due escalation step once."""
    result = sla_sweep(now=timezone.now())
    return {"claimed": result.claimed, "fired": result.fired, "skipped": result.skipped,
            "cancelled": result.cancelled, "reassigned": result.reassigned}


def deliver_notifications(*, messages: list[dict]) -> int:
    """Send a batch of emails / webhooks; each is deduped by its key, so a retried batch sends nothing twice."""
    sent = 0
    for message in messages:
        if message["channel"] == "email":
            sent += send_email(to=message["to"], subject=message["subject"], body=message["body"],
                               event=message["event"], dedupe_key=message["dedupe_key"])
        else:
            sent += send_webhook(event=message["event"], payload=message["payload"],
                                 dedupe_key=message["dedupe_key"])
    return sent


# ---- pipeline ----------------------------------------------------------------------------------


def sweep_stale_deals_task(now: str | None = None) -> dict:
    """Scheduled: one pass of the stale-deal sweeper at the current time."""
    at = timezone.now() if now is None else timezone.datetime.fromisoformat(now)
    return sweep_stale_deals(now=at)


def notify_stale_batch(*, deal_ids: list[int], step: str, token: str) -> int:
    """Email the owner (step "owner") or the owner's manager (step "manager") for each claimed deal."""
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


# ---- scoring -----------------------------------------------------------------------------------


def rescore_decayed_leads() -> int:
    """Daily: rescore, set-based, the leads whose decayed points may have changed since yesterday.

    An MQL is never demoted: rescoring only stores scores; lifecycle moves are forward-only.
    """
    at = timezone.now()
    lead_ids = leads_with_decay_due(since=at - timedelta(days=1), at=at)
    job = RescoreJob.objects.create(segment="", trigger=ScoreChange.Trigger.DECAY, total=len(lead_ids),
                                    status=RescoreJob.Status.RUNNING, started_at=at)
    result = leads_rescore_and_qualify(lead_ids=lead_ids, at=at, trigger=ScoreChange.Trigger.DECAY)
    RescoreJob.objects.filter(pk=job.pk).update(
        processed=len(lead_ids), changed=result["changed"], qualified=len(result["qualified"]),
        status=RescoreJob.Status.DONE, finished_at=timezone.now())
    return len(lead_ids)


def send_buying_committee_alerts(*, alerts: list[dict]) -> int:
    """Deliver the buying-committee alerts one transaction raised (webhook to each account owner).

    Idempotent: each alert carries the dedupe key ``buying-committee:<account>``. Returns how many were new.
    """
    return sum(bool(send_webhook(event="account.buying_committee", payload=payload,
                                 dedupe_key=f"buying-committee:{payload['account']}")) for payload in alerts)


# ---- leads and notifications -------------------------------------------------------------------


def sweep_recycling() -> dict:
    """Scheduled: start recycling nurtures whose date has come; archive 6 months without engagement."""
    now = timezone.now()
    return {"reengaged": sweep_recycle_dates(now=now), "archived": sweep_recycling_expiry(now=now)}


def retry_webhooks() -> int:
    """Scheduled: retry the webhook deliveries whose backoff has passed."""
    return retry_due_webhooks()
