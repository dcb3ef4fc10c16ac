"""Deals and the rep's work items (tasks, logged activities).

Tasks and activities live here, directly above ``leads``, because they point at
both leads and deals; routing, scoring and revops build on top of this app.

The deal stage machine (SPEC §7) is declared on ``Deal``: one transition per target
stage, each only checking and setting fields on the deal. ``pipeline/services.py``
wraps them (history rows, approvals, stale timers, notifications).
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from leads.models import Account, BaseModel, Lead, history

# Seed 001 "Pipeline Stages": the data a deal must carry to enter each stage.
# Keys are the API field names; "contact" is the deal's lead and "company" its account.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "qualified": ("contact", "company", "source", "fit_score"),
    "discovery": ("pain_points", "current_solution", "timeline"),
    "demo": ("technical_requirements", "decision_makers"),
    "proposal": ("pricing", "terms", "stakeholder_map"),
    "negotiation": ("redlines", "approval_chain", "close_date"),
    "closed_won": ("signed_contract", "payment_terms"),
    "closed_lost": ("loss_reason",),
}
_FIELD_ATTR = {"contact": "lead_id", "company": "account_id"}

OPEN_ORDER = ("qualified", "discovery", "demo", "proposal", "negotiation")
# Stages where discount / terms are decided: the deal desk check applies from here on.
DEAL_DESK_GATED = ("negotiation", "closed_won")


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


def missing_fields(deal, stage: str) -> list[str]:
    """The required fields of ``stage`` that ``deal`` leaves empty (pure: reads attributes only)."""
    missing = [name for name in REQUIRED_FIELDS.get(stage, ()) if _is_empty(getattr(deal, _FIELD_ATTR.get(name, name)))]
    if stage == "closed_lost" and "competitor" in (deal.loss_reason or "").lower() and _is_empty(deal.competitor):
        # "Competitor (if any)": a loss to a competitor must name it.
        missing.append("competitor")
    return missing


def stage_index(stage: str) -> int:
    return OPEN_ORDER.index(stage) if stage in OPEN_ORDER else len(OPEN_ORDER)


class StageConfig(BaseModel):
    """Per-stage stale limit. Without a limit, a deal is stale past 2x the stage's historical average."""

    stage = models.CharField(max_length=20, unique=True)
    stale_after_days = models.PositiveIntegerField(null=True, blank=True)
    history = history()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.stage}: {self.stale_after_days or '2x average'}"


class DealDeskConfig(BaseModel):
    """The one deal-desk configuration row (pk=1): seed 001 approval tiers and the ACV threshold."""

    acv_threshold = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("25000"))
    manager_discount_pct = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("10"))
    vp_discount_pct = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("20"))
    deal_desk_discount_pct = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("40"))
    multi_year_months = models.PositiveIntegerField(default=12, help_text="Terms longer than this are multi-year")
    history = history()

    class Meta:
        verbose_name = "deal desk configuration"

    def __str__(self):
        return f"Deal desk (ACV > {self.acv_threshold})"

    @classmethod
    def current(cls) -> "DealDeskConfig":
        config, _ = cls.objects.get_or_create(pk=1)
        return config


class DealQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(stage__in=[Deal.Stage.CLOSED_WON, Deal.Stage.CLOSED_LOST])

    def stale_owner_due(self, now):
        return self.open().filter(stale_owner_due_at__lte=now, stale_owner_at__isnull=True)

    def stale_manager_due(self, now):
        return self.open().filter(stale_manager_due_at__lte=now, stale_manager_at__isnull=True)


_OPEN_STAGES = ["qualified", "discovery", "demo", "proposal", "negotiation"]


def _others(target):
    return [s for s in _OPEN_STAGES if s != target]


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
    # Further people on the buying committee; with ``lead`` they are "the deal's contacts".
    contacts = models.ManyToManyField(Lead, blank=True, related_name="contact_deals")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    cs_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="cs_deals"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    close_date = models.DateField(null=True, blank=True)
    stage = FSMField(choices=Stage.choices, default=Stage.QUALIFIED, protected=True, db_index=True)
    stage_entered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # Qualified
    source = models.CharField(max_length=100, blank=True)
    fit_score = models.IntegerField(null=True, blank=True)
    # Discovery
    pain_points = models.TextField(blank=True)
    current_solution = models.TextField(blank=True)
    timeline = models.CharField(max_length=200, blank=True)
    # Demo / Evaluation
    technical_requirements = models.TextField(blank=True)
    decision_makers = models.TextField(blank=True)
    # Proposal
    pricing = models.TextField(blank=True)
    terms = models.TextField(blank=True)
    stakeholder_map = models.TextField(blank=True)
    # Negotiation
    redlines = models.TextField(blank=True)
    approval_chain = models.TextField(blank=True)
    # Closed Won
    signed_contract = models.CharField(max_length=500, blank=True, help_text="Reference or link to the contract")
    payment_terms = models.CharField(max_length=200, blank=True)
    # Closed Lost
    loss_reason = models.CharField(max_length=200, blank=True)
    competitor = models.CharField(max_length=200, blank=True)

    # Deal desk inputs
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    acv = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True,
                              help_text="Annual contract value; defaults to the amount over the term")
    term_months = models.PositiveIntegerField(default=12)
    custom_terms = models.TextField(blank=True, help_text="Non-standard terms requested (each is an exception)")

    # Hygiene flags
    stage_skipped = models.BooleanField(default=False)
    stale = models.BooleanField(default=False, db_index=True)
    forecast_review = models.BooleanField(default=False)
    needs_approval = models.BooleanField(default=False)
    close_date_pushes = models.PositiveIntegerField(default=0)

    # Stale timers (STYLE rule 9): due-at columns swept by one job; *_at mark a step as done.
    stale_owner_due_at = models.DateTimeField(null=True, blank=True)
    stale_owner_at = models.DateTimeField(null=True, blank=True)
    stale_manager_due_at = models.DateTimeField(null=True, blank=True)
    stale_manager_at = models.DateTimeField(null=True, blank=True)
    # Token of the sweeper run that claimed the latest step (lets one UPDATE claim a whole batch).
    stale_claim = models.CharField(max_length=32, blank=True, db_index=True)

    objects = DealQuerySet.as_manager()
    history = history()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(condition=models.Q(discount_percent__gte=0, discount_percent__lte=100),
                                   name="deal_discount_0_100"),
        ]
        indexes = [
            models.Index(fields=["owner", "stage"], name="deal_owner_stage_idx"),
            models.Index(fields=["stale_owner_due_at"], name="deal_stale_owner_due_idx"),
            models.Index(fields=["stale_manager_due_at"], name="deal_stale_manager_due_idx"),
        ]

    def __str__(self):
        return self.name

    @property
    def flags(self) -> list[str]:
        names = ("stage_skipped", "stale", "forecast_review", "needs_approval")
        return [name for name in names if getattr(self, name)]

    @property
    def effective_acv(self) -> Decimal:
        if self.acv is not None:
            return self.acv
        years = max(Decimal(self.term_months or 12) / 12, Decimal(1))
        return (self.amount or Decimal(0)) / years

    # ---- stage transitions: they only check and set fields on self (STYLE rule 1) ----

    def _enter(self, target: str, *, at, reason: str, approvals_pending: bool) -> None:
        missing = missing_fields(self, target)
        if missing:
            raise ValidationError({"missing_fields": missing})
        current = self.stage
        if current in OPEN_ORDER and target in OPEN_ORDER and stage_index(target) < stage_index(current):
            if not (reason or "").strip():
                raise ValidationError({"reason": "Moving a deal backwards needs a reason."})
        if target in DEAL_DESK_GATED and approvals_pending:
            raise ValidationError({"needs_approval": "This deal waits for deal-desk approval; it cannot advance "
                                                     "until every required approval is granted."})
        if target not in self.CLOSED and stage_index(target) > stage_index(current) + 1:
            self.stage_skipped = True
        if target == self.Stage.CLOSED_WON and stage_index(current) < stage_index("negotiation"):
            self.stage_skipped = True
        self.stage_entered_at = at
        # A new stage restarts the stale clock (the service sets the new due time).
        self.stale = False
        self.stale_owner_at = self.stale_manager_at = self.stale_manager_due_at = None
        self.stale_owner_due_at = None
        if target in self.CLOSED:
            self.closed_at = at

    @transition(field=stage, source=_others("qualified"), target=Stage.QUALIFIED,
                custom={"label": "Back to Qualified", "form": "pipeline.forms.StageForm"})
    def to_qualified(self, *, at, reason: str = "", approvals_pending: bool = False):
        self._enter("qualified", at=at, reason=reason, approvals_pending=approvals_pending)

    @transition(field=stage, source=_others("discovery"), target=Stage.DISCOVERY,
                custom={"label": "Discovery", "form": "pipeline.forms.StageForm"})
    def to_discovery(self, *, at, reason: str = "", approvals_pending: bool = False):
        self._enter("discovery", at=at, reason=reason, approvals_pending=approvals_pending)

    @transition(field=stage, source=_others("demo"), target=Stage.DEMO,
                custom={"label": "Demo / Evaluation", "form": "pipeline.forms.StageForm"})
    def to_demo(self, *, at, reason: str = "", approvals_pending: bool = False):
        self._enter("demo", at=at, reason=reason, approvals_pending=approvals_pending)

    @transition(field=stage, source=_others("proposal"), target=Stage.PROPOSAL,
                custom={"label": "Proposal", "form": "pipeline.forms.StageForm"})
    def to_proposal(self, *, at, reason: str = "", approvals_pending: bool = False):
        self._enter("proposal", at=at, reason=reason, approvals_pending=approvals_pending)

    @transition(field=stage, source=_others("negotiation"), target=Stage.NEGOTIATION,
                custom={"label": "Negotiation", "form": "pipeline.forms.StageForm"})
    def to_negotiation(self, *, at, reason: str = "", approvals_pending: bool = False):
        self._enter("negotiation", at=at, reason=reason, approvals_pending=approvals_pending)

    # Closing runs the cross-app handoff (revops.flows.deals), so the admin does not offer it.
    @transition(field=stage, source=_OPEN_STAGES, target=Stage.CLOSED_WON, custom={"admin": False})
    def mark_won(self, *, at, reason: str = "", approvals_pending: bool = False):
        self._enter("closed_won", at=at, reason=reason, approvals_pending=approvals_pending)

    @transition(field=stage, source=_OPEN_STAGES, target=Stage.CLOSED_LOST, custom={"admin": False})
    def mark_lost(self, *, at, reason: str = "", approvals_pending: bool = False):
        self._enter("closed_lost", at=at, reason=reason, approvals_pending=False)


TRANSITION_FOR = {
    "qualified": "to_qualified", "discovery": "to_discovery", "demo": "to_demo", "proposal": "to_proposal",
    "negotiation": "to_negotiation", "closed_won": "mark_won", "closed_lost": "mark_lost",
}


class DealStageChange(models.Model):
    """One stint of a deal in a stage: time in stage and the historical averages come from these rows."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, blank=True)
    stage = models.CharField(max_length=20, db_index=True)
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    # Filled when the stint ends so averages are a plain AVG on every database.
    duration_seconds = models.BigIntegerField(null=True, blank=True)
    backward = models.BooleanField(default=False)
    skipped = models.JSONField(default=list, blank=True, help_text="Stages jumped over by this move")
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")

    class Meta:
        ordering = ["entered_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deal"], condition=models.Q(left_at__isnull=True),
                                    name="deal_one_open_stint"),
        ]
        indexes = [models.Index(fields=["stage", "left_at"], name="stagechange_stage_left_idx")]

    def __str__(self):
        return f"{self.deal_id}: {self.from_stage or '-'} -> {self.stage}"


class CloseDateChange(models.Model):
    """Close-date discipline: every change with its reason (no silent pushes)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="close_date_changes")
    old_date = models.DateField(null=True, blank=True)
    new_date = models.DateField(null=True, blank=True)
    is_push = models.BooleanField(default=False)
    reason = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.deal_id}: {self.old_date} -> {self.new_date}"


class Approval(ConcurrentTransitionMixin, BaseModel):
    """One deal-desk approval request: every one is a recorded exception to standard terms."""

    class Tier(models.TextChoices):
        MANAGER = "manager", "Sales manager (10-20 % discount)"
        VP = "vp", "VP Sales (20-40 % discount)"
        DEAL_DESK = "deal_desk", "Deal desk (40 %+ discount, custom terms, large ACV)"
        FINANCE = "finance", "Finance (multi-year)"
        LEGAL = "legal", "Legal (multi-year)"

    class ExceptionKind(models.TextChoices):
        DISCOUNT = "discount", "Discount"
        CUSTOM_TERMS = "custom_terms", "Custom terms"
        MULTI_YEAR = "multi_year", "Multi-year contract"
        LARGE_ACV = "large_acv", "ACV above threshold"

    class State(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        SUPERSEDED = "superseded"

    # Who may decide each tier: a Rep role or a Django group (see pipeline.services.can_decide).
    APPROVER_ROLE = {
        Tier.MANAGER: "Sales manager", Tier.VP: "VP Sales", Tier.DEAL_DESK: "Deal Desk",
        Tier.FINANCE: "Finance", Tier.LEGAL: "Legal",
    }

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="approvals")
    tier = models.CharField(max_length=20, choices=Tier.choices)
    approver_role = models.CharField(max_length=50)
    exception = models.CharField(max_length=20, choices=ExceptionKind.choices)
    exception_text = models.TextField(help_text="What was asked for, e.g. '25% discount' or the custom term")
    # Snapshot of the terms this approval covers; changed terms need a new approval.
    terms_key = models.CharField(max_length=500)
    state = FSMField(choices=State.choices, default=State.PENDING, protected=True, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    history = history()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deal", "tier", "exception"], condition=models.Q(state="pending"),
                                    name="approval_one_pending_per_tier"),
        ]

    def __str__(self):
        return f"{self.deal_id} {self.tier} {self.exception} ({self.state})"

    @transition(field=state, source=State.PENDING, target=State.APPROVED, custom={"admin": False})
    def approve(self, *, by, at, note: str = ""):
        self.decided_by, self.decided_at, self.note = by, at, note

    @transition(field=state, source=State.PENDING, target=State.REJECTED, custom={"admin": False})
    def reject(self, *, by, at, note: str = ""):
        if not (note or "").strip():
            raise ValidationError({"note": "Say why the exception is rejected."})
        self.decided_by, self.decided_at, self.note = by, at, note

    @transition(field=state, source=State.PENDING, target=State.SUPERSEDED, custom={"admin": False})
    def supersede(self, *, at):
        self.decided_at = at


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
