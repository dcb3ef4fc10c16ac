"""django-q2 entry points of routing: primitive arguments, idempotent (STYLE rule 8)."""

from django.utils import timezone

from revops import notifications


def sweep_sla() -> dict:
    """The one scheduled SLA sweeper (every minute): fires each due escalation step once."""
    from .services import sla_sweep

    result = sla_sweep(now=timezone.now())
    return {"claimed": result.claimed, "fired": result.fired, "skipped": result.skipped,
            "cancelled": result.cancelled, "reassigned": result.reassigned}


def deliver_notifications(*, messages: list[dict]) -> int:
    """Send a batch of emails / webhooks; each is deduped by its key, so a retried batch sends nothing twice."""
    sent = 0
    for message in messages:
        if message["channel"] == "email":
            sent += notifications.send_email(to=message["to"], subject=message["subject"], body=message["body"],
                                             event=message["event"], dedupe_key=message["dedupe_key"])
        else:
            sent += notifications.send_webhook(event=message["event"], payload=message["payload"],
                                               dedupe_key=message["dedupe_key"])
    return sent
