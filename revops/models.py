from django.db import models


class Notification(models.Model):
    """Outbox log of every email and webhook sent; ``dedupe_key`` makes each delivery happen once."""

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
