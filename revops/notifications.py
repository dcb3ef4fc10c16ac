"""Outbound notifications: email to people, signed webhooks to tools.

Run by django-q2 workers (enqueued with ``transaction.on_commit``), so a rolled-back change
never notifies. Each event is logged once per ``dedupe_key`` (a retried job sends nothing
twice). Webhooks go to every active ``WebhookSubscription`` that wants the event kind, as JSON
with a Slack-compatible ``text``, signed with HMAC-SHA256; a failed delivery is retried with
exponential backoff by the ``revops-webhook-retry`` sweeper, and every attempt is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Notification, WebhookAttempt, WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 60  # 1, 2, 4, 8, 16 minutes between attempts


def _claim(*, channel: str, event: str, recipient: str, payload, dedupe_key: str | None) -> Notification | None:
    try:
        with transaction.atomic():
            return Notification.objects.create(
                channel=channel, event=event, recipient=recipient, payload=payload, dedupe_key=dedupe_key
            )
    except IntegrityError:
        return None  # already sent (a retried or duplicated job)


def send_webhook(*, event: str, payload, dedupe_key: str | None = None) -> bool:
    """Log the event once and deliver it to every subscription that wants it. False when a duplicate."""
    note = _claim(channel=Notification.Channel.WEBHOOK, event=event, recipient="subscriptions",
                  payload=payload, dedupe_key=dedupe_key)
    if note is None:
        return False
    subscriptions = [s for s in WebhookSubscription.objects.filter(active=True) if s.wants(event)]
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(notification=note, subscription=s, next_attempt_at=timezone.now()) for s in subscriptions]
    )
    for delivery in deliveries:
        delivery.notification = note
        attempt_delivery(delivery_id=delivery.pk)
    return True


def send_email(*, to: str, subject: str, body: str, event: str = "email", dedupe_key: str | None = None) -> bool:
    note = _claim(channel=Notification.Channel.EMAIL, event=event, recipient=to,
                  payload={"subject": subject, "body": body}, dedupe_key=dedupe_key)
    if note is None or not to:
        return False
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    return True


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` of the raw body; receivers recompute it with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(note: Notification, delivery_id: int) -> bytes:
    return json.dumps({"event": note.event, "text": _text(note.event, note.payload), "payload": note.payload,
                       "delivery": delivery_id, "sent_at": note.created_at.isoformat()},
                      sort_keys=True, default=str).encode()


def attempt_delivery(*, delivery_id: int, now=None) -> bool:
    """Make one HTTP attempt for a pending delivery; log it; schedule the next one on failure."""
    now = now or timezone.now()
    # Claim the attempt: only the worker that moves next_attempt_at forward may send.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(minutes=10))
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("notification", "subscription").get(pk=delivery_id)
    body = webhook_body(delivery.notification, delivery.pk)
    headers = {"Content-Type": "application/json", "X-Revops-Event": delivery.notification.event,
               "X-Revops-Delivery": str(delivery.pk)}
    if delivery.subscription.secret:
        headers["X-Revops-Signature"] = signature(delivery.subscription.secret, body)
    status_code, error = None, ""
    started = time.monotonic()
    try:
        request = urllib.request.Request(delivery.subscription.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - admin-configured URL
            status_code = response.status
    except urllib.error.HTTPError as exc:
        status_code, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = str(getattr(exc, "reason", exc))[:500]
    duration = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    attempts = delivery.attempts + 1
    WebhookAttempt.objects.create(delivery=delivery, at=now, status_code=status_code, error=error,
                                  duration_ms=duration)
    if ok:
        status, next_at = WebhookDelivery.Status.DELIVERED, None
    elif attempts >= MAX_ATTEMPTS:
        status, next_at = WebhookDelivery.Status.FAILED, None
        logger.warning("webhook %s to %s failed after %s attempts", delivery.notification.event,
                       delivery.subscription.url, attempts)
    else:
        status, next_at = WebhookDelivery.Status.PENDING, now + backoff(attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status, attempts=attempts, next_attempt_at=next_at)
    return ok


def backoff(attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: 1, 2, 4, 8, 16 minutes."""
    return timedelta(seconds=BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))


def retry_due_webhooks(*, now=None, batch: int = 100) -> int:
    """Sweeper (schedule ``revops-webhook-retry``): retry every pending delivery whose time has come."""
    now = now or timezone.now()
    due = list(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:batch])
    return sum(attempt_delivery(delivery_id=pk, now=now) for pk in due)


def _text(event: str, payload) -> str:
    if isinstance(payload, dict) and payload.get("text"):
        return str(payload["text"])
    subject = ""
    if isinstance(payload, dict):
        subject = payload.get("email") or payload.get("name") or payload.get("lead") or ""
    return f"[revops] {event} {subject}".strip()
