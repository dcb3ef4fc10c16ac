"""Outbound webhooks: per-event subscriptions, HMAC signature, retries with backoff, every attempt logged."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from revops import notifications
from revops.models import Notification, WebhookAttempt, WebhookDelivery, WebhookSubscription
from revops.schedules import all_schedules

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP endpoint that answers ``codes`` in turn (then 200) and records every request."""

    def __init__(self, codes=()):
        self.codes = list(codes)
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.codes.pop(0) if receiver.codes else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = []

    def make(codes=()):
        made.append(Receiver(codes))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_signed_json_with_slack_text_to_matching_subscriptions_only(receiver):
    hook = receiver()
    WebhookSubscription.objects.create(name="slack", url=hook.url, secret="s3cret", events=["lead.assigned"])
    WebhookSubscription.objects.create(name="other", url=hook.url, events=["sla.breached"])
    assert notifications.send_webhook(event="lead.assigned", payload={"lead": 7, "text": "Lead 7 -> ann"},
                                      dedupe_key="a-7")
    assert len(hook.requests) == 1
    headers, body = hook.requests[0]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Revops-Signature"] == expected
    assert headers["X-Revops-Event"] == "lead.assigned"
    message = json.loads(body)
    assert (message["event"], message["text"], message["payload"]) == ("lead.assigned", "Lead 7 -> ann", {
        "lead": 7, "text": "Lead 7 -> ann"})
    assert WebhookDelivery.objects.get().status == "delivered"


def test_duplicate_event_is_sent_once(receiver):
    hook = receiver()
    WebhookSubscription.objects.create(name="all", url=hook.url)
    assert notifications.send_webhook(event="lead.mql", payload={"lead": 1}, dedupe_key="mql-1")
    assert not notifications.send_webhook(event="lead.mql", payload={"lead": 1}, dedupe_key="mql-1")
    assert len(hook.requests) == 1
    assert Notification.objects.filter(dedupe_key="mql-1").count() == 1


def test_failures_are_retried_with_backoff_and_every_attempt_is_logged(receiver):
    hook = receiver(codes=[500, 503])
    WebhookSubscription.objects.create(name="flaky", url=hook.url)
    notifications.send_webhook(event="sla.breached", payload={"lead": 3}, dedupe_key="b-3")
    delivery = WebhookDelivery.objects.get()
    first_at = WebhookAttempt.objects.get().at
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "pending", 1, first_at + timedelta(minutes=1))
    assert notifications.retry_due_webhooks(now=first_at + timedelta(seconds=59)) == 0
    second = first_at + timedelta(minutes=1)
    assert notifications.retry_due_webhooks(now=second) == 0  # 503: still failing
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.next_attempt_at) == (2, second + timedelta(minutes=2))
    assert notifications.retry_due_webhooks(now=second + timedelta(minutes=2)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert list(WebhookAttempt.objects.order_by("at").values_list("status_code", flat=True)) == [500, 503, 200]
    assert len(hook.requests) == 3


def test_gives_up_after_max_attempts_and_unreachable_url_is_logged():
    WebhookSubscription.objects.create(name="down", url="http://127.0.0.1:9/nothing")
    notifications.send_webhook(event="lead.assigned", payload={}, dedupe_key="d")
    now = timezone.now()
    for step in range(1, notifications.MAX_ATTEMPTS):
        now += notifications.backoff(step)
        notifications.retry_due_webhooks(now=now)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", notifications.MAX_ATTEMPTS)
    assert WebhookAttempt.objects.filter(status_code__isnull=True).exclude(error="").count() == 6
    assert notifications.retry_due_webhooks(now=now + timedelta(days=1)) == 0


def test_retry_schedule_is_declared():
    assert all_schedules()["revops-webhook-retry"] == ("revops.jobs.retry_webhooks", "I", 1)


def test_every_declared_schedule_names_an_importable_job():
    from django.utils.module_loading import import_string

    schedules = all_schedules()
    assert set(schedules) == {"revops-webhook-retry", "revops-recycling-sweep", "revops-scoring-daily-decay",
                              "revops-sla-sweep", "revops-stale-deals"}
    for func, _type, _minutes in schedules.values():
        assert callable(import_string(func)), func
