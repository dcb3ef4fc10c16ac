"""Deals and the rep's work items (tasks, logged activities).

Tasks and activities live here, directly above ``leads``, because they point at
both leads and deals; routing, scoring and revops build on top of this app.
"""

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from leads.models import Account, BaseModel, Lead, history


class DealQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(stage__in=[Deal.Stage.CLOSED_WON, Deal.Stage.CLOSED_LOST])


class Deal(ConcurrentTransitionMixin, BaseModel):
    class Stage(models.TextChoices):
        QUALIFIED = "qualified"
        DISCOVERY = "discovery"
        DEMO = "demo", "Demo / Evaluation"
        PROPOSAL = "proposal"
        NEGOTIATION = "negotiation"
        CLOSED_WON = "closed_won", "Closed Won"
        CLOSED_LOST = "closed_lost", "Closed Lost"

    CLOSED = (Stage.CLOSED_WON, Stage.CLOSED_LOST)

    name = models.CharField(max_length=200)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    close_date = models.DateField(null=True, blank=True)
    stage = FSMField(choices=Stage.choices, default=Stage.QUALIFIED, protected=True, db_index=True)
    stage_entered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = DealQuerySet.as_manager()
    history = history()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount__gte=0), name="deal_amount_not_negative")]
        indexes = [models.Index(fields=["owner", "stage"], name="deal_owner_stage_idx")]

    def __str__(self):
        return self.name

    @transition(field=stage, source=[s for s in Stage.values if s not in ("closed_won", "closed_lost")],
                target=Stage.CLOSED_WON, custom={"admin": False})
    def mark_won(self, *, at):
        self.closed_at = at
        self.stage_entered_at = at

    @transition(field=stage, source=[s for s in Stage.values if s not in ("closed_won", "closed_lost")],
                target=Stage.CLOSED_LOST, custom={"admin": False})
    def mark_lost(self, *, at):
        self.closed_at = at
        self.stage_entered_at = at


class TaskQuerySet(models.QuerySet):
    def open(self):
        return self.filter(completed_at__isnull=True)


class Task(BaseModel):
    class Kind(models.TextChoices):
        FIRST_CONTACT = "first_contact", "First contact"
        QUALIFY = "qualify", "Qualification decision"
        DISCOVERY_CALL = "discovery_call", "Discovery call"
        CREATE_OPPORTUNITY = "create_opportunity", "Create opportunity"
        STALE_DEAL = "stale_deal", "Stale deal"
        KICKOFF = "kickoff", "Customer kickoff"
        POST_MORTEM = "post_mortem", "Post-mortem"
        FOLLOW_UP = "follow_up", "Follow up"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    title = models.CharField(max_length=300)
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Makes creation idempotent: a retried handoff or sweep finds the task it already made.
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)

    objects = TaskQuerySet.as_manager()
    history = history()

    class Meta:
        indexes = [models.Index(fields=["owner", "completed_at", "due_at"], name="task_owner_open_due_idx")]
        ordering = ["due_at", "id"]

    def __str__(self):
        return self.title


class Activity(BaseModel):
    """A sales touch a rep logs: the first one after the MQL is the first contact."""

    class Kind(models.TextChoices):
        CALL = "call"
        EMAIL = "email"
        MEETING = "meeting"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    occurred_at = models.DateTimeField()
    note = models.TextField(blank=True)
    history = history()

    class Meta:
        indexes = [models.Index(fields=["lead", "occurred_at"], name="activity_lead_time_idx")]
        ordering = ["-occurred_at"]
        verbose_name_plural = "activities"

    def __str__(self):
        return f"{self.kind} {self.occurred_at:%Y-%m-%d}"
