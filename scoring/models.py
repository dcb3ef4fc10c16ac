"""Scoring models (versioned, one active per segment), score history, rescoring jobs, account scores."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from leads.models import Account, BaseModel, EngagementEvent, Lead, history

from .validation import validate_event_types, validate_rules, validate_string_list

DEFAULT_SEGMENT = "default"


class ScoringModelQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=ScoringModel.Status.ACTIVE)


class ScoringModel(BaseModel):
    """A scoring model as the JSON of API.md; ``rules`` is validated strictly (``scoring.validation``)."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        RETIRED = "retired"

    name = models.CharField(max_length=100)
    segment = models.CharField(max_length=50, default=DEFAULT_SEGMENT, db_index=True)
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    description = models.TextField(blank=True)
    mql_threshold = models.IntegerField(default=60)
    min_fit = models.IntegerField(default=0)
    min_engagement = models.IntegerField(default=0)
    fast_track_events = models.JSONField(default=list, blank=True)
    cooldown_minutes = models.PositiveIntegerField(default=30)
    rules = models.JSONField(default=list, blank=True)
    # Settings the rules can refer to ({"setting": "target_industries"}) and the domain lists.
    target_industries = models.JSONField(default=list, blank=True)
    secondary_industries = models.JSONField(default=list, blank=True)
    target_geographies = models.JSONField(default=list, blank=True)
    secondary_geographies = models.JSONField(default=list, blank=True)
    target_tools = models.JSONField(default=list, blank=True)
    competitor_tools = models.JSONField(default=list, blank=True)
    personal_domains = models.JSONField(default=list, blank=True, help_text="Empty: the built-in list.")
    education_domains = models.JSONField(default=list, blank=True)
    competitor_domains = models.JSONField(default=list, blank=True)
    internal_domains = models.JSONField(default=list, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approval_note = models.TextField(blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScoringModelQuerySet.as_manager()
    history = history()

    SETTING_FIELDS = ("target_industries", "secondary_industries", "target_geographies", "secondary_geographies",
                      "target_tools", "competitor_tools", "personal_domains", "education_domains",
                      "competitor_domains", "internal_domains")
    JSON_FIELDS = ("mql_threshold", "min_fit", "min_engagement", "fast_track_events", "cooldown_minutes", "rules")

    class Meta:
        ordering = ["segment", "name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="scoring_model_name_version"),
            models.UniqueConstraint(fields=["segment"], condition=models.Q(status="active"),
                                    name="scoring_model_one_active_per_segment"),
        ]

    def __str__(self):
        return f"{self.name} v{self.version} ({self.segment}, {self.status})"

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def clean(self):
        validate_rules(self.rules)
        validate_event_types(self.fast_track_events, "fast_track_events")
        for name in self.SETTING_FIELDS:
            validate_string_list(getattr(self, name), name)
        if not (self.segment or "").strip():
            raise ValidationError({"segment": ["A segment is required."]})

    def as_engine_dict(self) -> dict:
        """The plain dict the pure engine reads."""
        data = {name: getattr(self, name) for name in self.JSON_FIELDS}
        data["settings"] = {name: [str(v).strip().lower() for v in getattr(self, name)]
                            for name in self.SETTING_FIELDS}
        data["label"] = self.label
        return data


class ScoreChange(models.Model):
    """One change of a lead's score: old and new values and what caused it."""

    class Trigger(models.TextChoices):
        EVENT = "event"
        INTAKE = "intake"
        ACTIVATION = "activation"
        DECAY = "decay"
        MANUAL = "manual"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="score_changes")
    event = models.ForeignKey(EngagementEvent, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="score_changes")
    scoring_model = models.ForeignKey(ScoringModel, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="score_changes")
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    at = models.DateTimeField(db_index=True)
    old_fit = models.IntegerField()
    old_engagement = models.IntegerField()
    old_score = models.IntegerField()
    new_fit = models.IntegerField()
    new_engagement = models.IntegerField()
    new_score = models.IntegerField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "at"], name="score_change_lead_at_idx")]

    def __str__(self):
        return f"{self.lead_id}: {self.old_score} -> {self.new_score} ({self.trigger})"


class RescoreJob(BaseModel):
    """Progress of a set-based rescoring run (activation of a model, the daily decay sweep)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    scoring_model = models.ForeignKey(ScoringModel, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="rescore_jobs")
    segment = models.CharField(max_length=50, blank=True)
    trigger = models.CharField(max_length=20, choices=ScoreChange.Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    qualified = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"rescore {self.segment or 'all'} {self.processed}/{self.total} ({self.status})"


class AccountScore(models.Model):
    """Account score = sum of its contacts' engagement; the buying-committee alert is raised once."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True,
                                   related_name="scoring")
    engagement_score = models.IntegerField(default=0)
    engaged_contacts = models.PositiveIntegerField(default=0)
    committee_alerted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.account_id}: {self.engagement_score}"
