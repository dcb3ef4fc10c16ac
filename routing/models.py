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
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["lead"], condition=models.Q(is_current=True),
                                    name="assignment_one_current_per_lead"),
        ]
        indexes = [models.Index(fields=["rep", "created_at"], name="assignment_rep_time_idx")]

    def __str__(self):
        return f"{self.lead_id} -> {self.rep_id or self.team_id} ({self.rule})"
