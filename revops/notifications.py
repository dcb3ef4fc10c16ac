"""Outbound notifications: email to people and a Slack-compatible webhook to tools.

Run by django-q2 workers (enqueued with ``transaction.on_commit``), so a rolled-back
change never notifies. Each delivery is recorded once per ``dedupe_key``.
"""

import json
import logging
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from .models import Notification

logger = logging.getLogger(__name__)


def _claim(*, channel: str, event: str, recipient: str, payload, dedupe_key: str | None) -> Notification | None:
    try:
        with transaction.atomic():
            return Notification.objects.create(
                channel=channel, event=event, recipient=recipient, payload=payload, dedupe_key=dedupe_key
            )
    except IntegrityError:
        return None  # already delivered (a retried or duplicated job)


def send_webhook(*, event: str, payload, dedupe_key: str | None = None) -> bool:
    """POST ``{"event", "text", "payload"}`` to the configured webhook URL (Slack accepts ``text``)."""
    note = _claim(channel=Notification.Channel.WEBHOOK, event=event, recipient=settings.REVOPS_WEBHOOK_URL,
                  payload=payload, dedupe_key=dedupe_key)
    if note is None:
        return False
    if settings.REVOPS_WEBHOOK_URL:
        body = json.dumps({"event": event, "text": _text(event, payload), "payload": payload}).encode()
        request = urllib.request.Request(settings.REVOPS_WEBHOOK_URL, data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - URL is operator configuration
            pass
    return True


def send_email(*, to: str, subject: str, body: str, event: str = "email", dedupe_key: str | None = None) -> bool:
    note = _claim(channel=Notification.Channel.EMAIL, event=event, recipient=to,
                  payload={"subject": subject, "body": body}, dedupe_key=dedupe_key)
    if note is None or not to:
        return False
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    return True


def _text(event: str, payload) -> str:
    if isinstance(payload, dict) and payload.get("text"):
        return str(payload["text"])
    return f"[revops] {event}"
