from django.db import models


class Notification(models.Model):
    """Outbox log of every email and webhook event; ``dedupe_key`` makes each one happen once."""

    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"

    channel = models.CharField(max_length=10, choices=Channel.choices)
    event = models.CharField(max_length=100, db_index=True)
    recipient = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.channel} {self.event} -> {self.recipient}"


class WebhookSubscription(models.Model):
    """An outbound webhook endpoint and the event kinds it wants (empty list = every event)."""

    KNOWN_EVENTS = ["lead.mql", "lead.assigned", "lead.reassigned", "sla.escalated", "sla.breached",
                    "nurture.changed", "account.buying_committee", "deal.created", "deal.stage_changed",
                    "deal.stage_skipped", "deal.approval_requested", "deal.closed_won", "deal.closed_lost",
                    "deal.cs_handoff"]

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, blank=True, help_text="HMAC-SHA256 key for X-Revops-Signature")
    events = models.JSONField(default=list, blank=True,
                              help_text="Event kinds, e.g. [\"lead.mql\", \"lead.assigned\"]; empty = all")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} -> {self.url}"

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)


class WebhookDelivery(models.Model):
    """One event to one subscription; retried with backoff until delivered or out of attempts."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notification", "subscription"],
                                               name="webhook_delivery_once_per_subscription")]

    def __str__(self):
        return f"{self.notification.event} -> {self.subscription.name} ({self.status})"


class WebhookAttempt(models.Model):
    """Every HTTP attempt, with its outcome (the delivery log)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
