"""Who works leads: teams with their business calendars, reps, territories, and the assignment log."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from leads.models import BaseModel, Lead, history


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"Unknown IANA timezone: {value!r}") from exc


def default_work_days():
    return [0, 1, 2, 3, 4]


class Team(BaseModel):
    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    work_start = models.TimeField(default="09:00")
    work_end = models.TimeField(default="17:00")
    work_days = models.JSONField(default=default_work_days, help_text="0 = Monday … 6 = Sunday")
    holiday_country = models.CharField(max_length=2, null=True, blank=True, help_text="ISO code, or empty")
    # SLA of the fallback queue when no rep can take a lead (seed 001: 1 hour).
    queue_sla_minutes = models.PositiveIntegerField(default=60)
    history = history()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(work_end__gt=models.F("work_start")), name="team_work_hours"),
        ]

    def __str__(self):
        return self.name


class Rep(BaseModel):
    """Sales profile of a user. Its primary key is the user's id, so ``owner`` ids are rep ids."""

    class Role(models.TextChoices):
        SDR = "sdr", "SDR"
        AE = "ae", "AE"
        ENTERPRISE_AE = "enterprise_ae", "Enterprise AE"
        PLG_SPECIALIST = "plg_specialist", "PLG specialist"
        CS = "cs", "Customer success"
        MANAGER = "manager", "Manager"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="rep")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="reps")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AE)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    backup = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="backing")
    capacity = models.PositiveIntegerField(default=50, help_text="Most open MQLs this rep may own")
    on_pto = models.BooleanField(default=False)
    quota_attainment = models.DecimalField(max_digits=5, decimal_places=2, default=0,
                                           help_text="Fraction of quota reached this period (1.00 = 100 %)")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    territories = models.ManyToManyField("Territory", blank=True, related_name="reps")
    active = models.BooleanField(default=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    history = history()

    class Meta:
        ordering = ["user__username"]
        indexes = [models.Index(fields=["team", "active", "on_pto"], name="rep_pool_idx")]

    def __str__(self):
        return self.user.get_username()

    @property
    def id(self):
        return self.pk

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER


class Territory(BaseModel):
    name = models.CharField(max_length=100, unique=True)
    priority = models.IntegerField(default=100, help_text="Highest wins among several matches")
    countries = models.JSONField(default=list, blank=True)
    states = models.JSONField(default=list, blank=True)
    min_employees = models.PositiveIntegerField(null=True, blank=True)
    max_employees = models.PositiveIntegerField(null=True, blank=True)
    industries = models.JSONField(default=list, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="territories")
    owner = models.ForeignKey(Rep, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_territories")
    history = history()

    class Meta:
        ordering = ["-priority", "name"]
        verbose_name_plural = "territories"

    def __str__(self):
        return self.name


class Assignment(models.Model):
    """One routing decision: who got the lead, which rule matched and why earlier rules did not."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    rep = models.ForeignKey(Rep, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments")
    # The team whose queue holds the lead while no rep owns it (or the rep's team).
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments")
    rule = models.CharField(max_length=100)
    reason = models.TextField(blank=True)
    skipped = models.JSONField(default=list, blank=True, help_text="[{rule, why}] for earlier rules")
    policy = models.CharField(max_length=100, blank=True)
    trigger = models.CharField(max_length=50, blank=True)
    # A flag a person reads first: "recycled MQL", "SDR handoff from <sdr>" (also prefixed to ``reason``).
    note = models.CharField(max_length=200, blank=True)
    # The MQL episode this decision belongs to: a retried handoff of the same episode finds it.
    mql_at = models.DateTimeField(null=True, blank=True)
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    SDR_HANDOFF = "sdr_handoff"  # ``trigger`` of the accept-time SDR -> AE handoff

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["lead"], condition=models.Q(is_current=True),
                                    name="assignment_one_current_per_lead"),
            # One SDR -> AE handoff per MQL episode, whatever retries or concurrent accepts do.
            models.UniqueConstraint(fields=["lead", "mql_at"], condition=models.Q(trigger="sdr_handoff"),
                                    name="assignment_one_sdr_handoff_per_mql"),
        ]
        indexes = [models.Index(fields=["rep", "created_at"], name="assignment_rep_time_idx")]

    def __str__(self):
        return f"{self.lead_id} -> {self.rep_id or self.team_id} ({self.rule})"


class RoutingStep(BaseModel):
    """One step of the routing decision tree; active steps are tried by ascending ``order``.

    ``conditions`` holds the kind's settings (JSON so managers can tune them in the admin):

    * ``named_account`` — ``{"abm_tiers": [1, 2, 3] or []}``: the account owner, or the owner of an
      open deal; the owner's backup when the owner is unavailable. Empty tiers = any account with an owner.
    * ``enterprise`` — ``{"min_employees": 1000, "industries": [...]}`` (empty industries = any).
    * ``plg`` — ``{"event_groups": [["team_member_invited"]]}``: the lead has one event of every group.
    * ``territory`` — none: the highest-priority matching Territory; its owner, else round-robin in its team.
    * ``round_robin`` — ``{"period": "week" | "month" | "day", "quota_bonus": 0.5}``.
    * ``fallback`` — none: the team queue of ``team`` (Assignment without a rep).

    ``team`` / ``role`` narrow the round-robin pool of the step; ``policy`` forces an SLA policy.
    """

    class Kind(models.TextChoices):
        NAMED_ACCOUNT = "named_account", "Named / target account owner"
        ENTERPRISE = "enterprise", "Large ACV -> enterprise team"
        PLG = "plg", "PLG signup with team usage"
        TERRITORY = "territory", "Territory"
        ROUND_ROBIN = "round_robin", "Round-robin across the pool"
        FALLBACK = "fallback", "Fallback team queue"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    order = models.PositiveIntegerField(default=100, help_text="Lower runs first (most specific first)")
    active = models.BooleanField(default=True)
    conditions = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="routing_steps")
    role = models.CharField(max_length=20, choices=Rep.Role.choices, blank=True,
                            help_text="Only reps with this role (empty = any sales role)")
    policy = models.ForeignKey("SlaPolicy", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="routing_steps", help_text="Force this SLA policy (else by rules)")
    history = history()

    class Meta:
        ordering = ["order", "id"]

    def __str__(self):
        return f"{self.order}. {self.name}"


def default_sla_steps():
    return []


class SlaPolicy(BaseModel):
    """An SLA phase and its escalation chain, in business time of the owner's team calendar.

    Phase ``mql`` (the handoff): ``steps`` = ``[{"after_minutes": 5, "action": "remind_owner"}, ...]``
    counted from the MQL (clock start), or ``{"at_due": true, ...}`` to fire at the first-contact
    deadline. Actions: remind_owner, alert_backup, alert_manager, reassign (first-contact chain,
    stopped by the first contact) and qualification_overdue (stopped by the SQL/reject decision).

    Phase ``sql`` (SQL -> opportunity, seed 001): steps counted from the SQL time, with
    ``after_business_days`` (whole working days of the calendar) or ``after_minutes``;
    discovery_overdue (stopped by a call / meeting logged after the SQL) and opportunity_overdue
    (stopped by the conversion; also raises the pipeline-review flag). Other alert actions may
    join either chain with ``"stops_on": "discovery_call" | "opportunity"`` (default discovery_call).

    The policy applying to a handoff is the active one of its phase with the highest ``priority``
    whose non-empty selectors (ABM tiers, segments, triggers) all match.
    """

    class Action(models.TextChoices):
        REMIND_OWNER = "remind_owner", "Remind owner"
        ALERT_BACKUP = "alert_backup", "Alert backup"
        ALERT_MANAGER = "alert_manager", "Alert manager"
        REASSIGN = "reassign", "Reassign by round-robin"
        QUALIFICATION_OVERDUE = "qualification_overdue", "Qualification decision overdue (alert manager)"
        DISCOVERY_OVERDUE = "discovery_overdue", "Discovery call overdue (alert AE manager)"
        OPPORTUNITY_OVERDUE = "opportunity_overdue", "Opportunity overdue (alert manager, pipeline review)"

    class Phase(models.TextChoices):
        MQL = "mql", "MQL handoff (first contact, qualification decision)"
        SQL = "sql", "SQL to opportunity (discovery call, opportunity created)"

    MQL_ONLY_ACTIONS = frozenset({Action.REASSIGN, Action.QUALIFICATION_OVERDUE})
    SQL_ONLY_ACTIONS = frozenset({Action.DISCOVERY_OVERDUE, Action.OPPORTUNITY_OVERDUE})

    name = models.CharField(max_length=100, unique=True)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.MQL, db_index=True)
    priority = models.IntegerField(default=0, help_text="Highest matching policy wins")
    active = models.BooleanField(default=True)
    abm_tiers = models.JSONField(default=list, blank=True, help_text="Empty = any tier")
    segments = models.JSONField(default=list, blank=True, help_text="Empty = any segment")
    triggers = models.JSONField(default=list, blank=True, help_text="Triggering event types; empty = any")
    for_queue = models.BooleanField(default=False, help_text="Applies to leads left in a team queue")
    first_contact_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Business minutes; empty = same business day (or the team's queue SLA)")
    qualification_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Business minutes")
    steps = models.JSONField(default=default_sla_steps, blank=True)
    history = history()

    class Meta:
        ordering = ["-priority", "name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self):
        return self.name

    def clean(self):
        actions = set(self.Action.values)
        wrong = self.SQL_ONLY_ACTIONS if self.phase == self.Phase.MQL else self.MQL_ONLY_ACTIONS
        for index, step in enumerate(self.steps or []):
            if not isinstance(step, dict) or step.get("action") not in actions:
                raise ValidationError({"steps": f"Step {index}: unknown action."})
            if step["action"] in wrong:
                raise ValidationError({"steps": f"Step {index}: {step['action']} is not an action of the "
                                                f"{self.phase} phase."})
            if self.phase == self.Phase.SQL:
                if step.get("stops_on", SlaStep.StopsOn.DISCOVERY_CALL) not in SlaStep.SQL_CHAINS:
                    raise ValidationError({"steps": f"Step {index}: stops_on must be discovery_call or "
                                                    "opportunity."})
                if "after_business_days" in step:
                    days = step["after_business_days"]
                    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
                        raise ValidationError(
                            {"steps": f"Step {index}: after_business_days must be a whole number >= 0."})
                    continue
            elif step.get("at_due"):
                continue  # fires at the first-contact deadline (e.g. "same business day")
            minutes = step.get("after_minutes")
            if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 0:
                raise ValidationError({"steps": f"Step {index}: after_minutes must be a whole number >= 0."})


class LeadSla(models.Model):
    """The SLA clock of one phase of one episode of a lead; ``is_current`` marks the live one per phase.

    Phase ``mql``: the handoff (first contact, qualification decision), started at the MQL.
    Phase ``sql``: SQL -> opportunity (seed 001), started at the SQL; its ``first_contact_due`` /
    ``first_contact_at`` hold the phase's first deadline and when it was met (the discovery call),
    so every reader of "the current clock's deadline" (the rep queue) works for both phases.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="slas")
    phase = models.CharField(max_length=10, choices=SlaPolicy.Phase.choices, default=SlaPolicy.Phase.MQL)
    assignment = models.ForeignKey(Assignment, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="slas")
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="slas")
    policy_name = models.CharField(max_length=100)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="slas")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="lead_slas")
    trigger = models.CharField(max_length=50, blank=True)
    started_at = models.DateTimeField(db_index=True, help_text="MQL time (speed-to-lead starts here)")
    clock_start = models.DateTimeField(help_text="Next business opening at or after the MQL")
    first_contact_due = models.DateTimeField(db_index=True)
    qualification_due = models.DateTimeField(null=True, blank=True)
    first_contact_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Wall-clock seconds from MQL to first contact: plain integers keep the metrics set-based on any DB.
    response_seconds = models.PositiveIntegerField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    # SQL phase (seed 001 "SQL-to-Opportunity SLA").
    discovery_due = models.DateTimeField(null=True, blank=True)
    discovery_at = models.DateTimeField(null=True, blank=True, help_text="First call / meeting after the SQL")
    opportunity_due = models.DateTimeField(null=True, blank=True)
    opportunity_at = models.DateTimeField(null=True, blank=True, help_text="Converted to an opportunity")
    pipeline_review_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                              help_text="Flagged for the weekly pipeline review (no opportunity "
                                                        "by the deadline)")
    # The lead left the phase (accepted, rejected, converted, superseded): nothing of it fires any more.
    closed_at = models.DateTimeField(null=True, blank=True)
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = "lead SLA"
        constraints = [
            models.UniqueConstraint(fields=["lead", "phase"], condition=models.Q(is_current=True),
                                    name="leadsla_one_current_per_lead_phase"),
        ]

    def __str__(self):
        return f"{self.lead_id} {self.policy_name} due {self.first_contact_due:%Y-%m-%d %H:%M}"


class SlaStep(models.Model):
    """One timer of an escalation chain: a due-at row the sweeper claims once; fired rows are the escalations."""

    class Status(models.TextChoices):
        PENDING = "pending"
        FIRED = "fired"
        SKIPPED = "skipped", "Skipped (a later step was already due)"
        CANCELLED = "cancelled", "Cancelled (contacted or decided)"

    class StopsOn(models.TextChoices):
        FIRST_CONTACT = "first_contact"
        DECISION = "decision"
        DISCOVERY_CALL = "discovery_call"
        OPPORTUNITY = "opportunity"

    SQL_CHAINS = frozenset({StopsOn.DISCOVERY_CALL, StopsOn.OPPORTUNITY})

    sla = models.ForeignKey(LeadSla, on_delete=models.CASCADE, related_name="steps")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="sla_steps")
    index = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=30, choices=SlaPolicy.Action.choices)
    stops_on = models.CharField(max_length=20, choices=StopsOn.choices, default=StopsOn.FIRST_CONTACT)
    breach = models.BooleanField(default=False, help_text="Firing this step means the SLA was breached")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    claim = models.UUIDField(null=True, blank=True, db_index=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="sla_escalations")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["due_at", "index"]
        verbose_name = "SLA step / escalation"
        constraints = [models.UniqueConstraint(fields=["sla", "index"], name="slastep_once_per_sla")]
        indexes = [models.Index(fields=["status", "due_at"], name="slastep_pending_due_idx")]

    def __str__(self):
        return f"{self.lead_id} {self.action} @ {self.due_at:%Y-%m-%d %H:%M} ({self.status})"
