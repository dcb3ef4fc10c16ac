"""Accounts, leads and their events: the bottom layer every other app builds on.

The lead lifecycle state machine lives here (SPEC §3). Transitions only set fields;
services in ``leads/services.py`` call them, save and record who and why.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords


class BaseModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def history():
    return HistoricalRecords(excluded_fields=["updated_at"], inherit=False)


class TitleLevel(models.TextChoices):
    C_SUITE = "c_suite", "C-suite"
    VP = "vp", "VP"
    DIRECTOR = "director", "Director"
    MANAGER = "manager", "Manager"
    INDIVIDUAL_CONTRIBUTOR = "individual_contributor", "Individual contributor"
    STUDENT = "student", "Student / intern"
    UNKNOWN = "", "Unknown"


class EmailDomainKind(models.TextChoices):
    CORPORATE = "corporate"
    PERSONAL = "personal"
    EDU = "edu"
    COMPETITOR = "competitor"
    INTERNAL = "internal"


class Account(BaseModel):
    class AbmTier(models.IntegerChoices):
        NONE = 0, "Not targeted"
        TIER_1 = 1, "Tier 1 (top 20 strategic)"
        TIER_2 = 2, "Tier 2 (top 100 target)"
        TIER_3 = 3, "Tier 3 (industry / size match)"

    name = models.CharField(max_length=200)
    # Normalised (lower-case, no scheme or www.); unique when present.
    domain = models.CharField(max_length=200, null=True, blank=True, unique=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    industry = models.CharField(max_length=100, blank=True, db_index=True)
    country = models.CharField(max_length=2, blank=True, db_index=True, help_text="ISO 3166 alpha-2")
    state = models.CharField(max_length=50, blank=True)
    tech_tags = models.JSONField(default=list, blank=True)
    abm_tier = models.PositiveSmallIntegerField(choices=AbmTier.choices, default=AbmTier.NONE)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    history = history()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(domain=Lower("domain")), name="account_domain_lower"),
            models.CheckConstraint(condition=models.Q(abm_tier__gte=0, abm_tier__lte=3), name="account_abm_tier"),
        ]
        indexes = [models.Index(Lower("name"), name="account_name_lower_idx")]

    def __str__(self):
        return self.domain or self.name


class ReasonCode(BaseModel):
    """Rejection reason codes of seed 001 with the recycle action each one calls for."""

    class Action(models.TextChoices):
        NURTURE = "nurture", "Nurture and re-score"
        ARCHIVE = "archive", "Archive; do not recycle"
        RECYCLE_AFTER = "recycle_after", "Recycle to nurture after a delay"
        RECYCLE_BEFORE_RENEWAL = "recycle_before_renewal", "Recycle before contract renewal"

    code = models.CharField(max_length=20, unique=True)
    reason = models.CharField(max_length=200)
    action = models.CharField(max_length=30, choices=Action.choices)
    recycle_days = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    history = history()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.reason}"


def _has_identity(lead) -> bool:
    return bool(lead.email and (lead.first_name or lead.last_name) and lead.account_id)


def _marketing_qualified(lead) -> bool:
    return bool(lead.mql_criteria_met and not lead.suppression_reason)


def _has_owner(lead) -> bool:
    return lead.owner_id is not None


class Lead(ConcurrentTransitionMixin, BaseModel):
    """One person through the whole lifecycle."""

    class Stage(models.TextChoices):
        SUBSCRIBER = "subscriber"
        LEAD = "lead"
        MQL = "mql"
        SQL = "sql"
        OPPORTUNITY = "opportunity"
        CUSTOMER = "customer"
        EVANGELIST = "evangelist"
        RECYCLED = "recycled"
        ARCHIVED = "archived"

    # Stages that sales or customer success own: automation never moves a lead out of them.
    SALES_OWNED = (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.EVANGELIST)
    PRE_CUSTOMER = (Stage.SUBSCRIBER, Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.RECYCLED)

    email = models.EmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=200, blank=True)
    title_level = models.CharField(max_length=30, choices=TitleLevel.choices, blank=True, db_index=True)
    department = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    source = models.CharField(max_length=100, blank=True, db_index=True)
    campaign = models.CharField(max_length=200, blank=True)
    segment = models.CharField(max_length=50, default="default", db_index=True)
    email_domain_kind = models.CharField(
        max_length=20, choices=EmailDomainKind.choices, default=EmailDomainKind.CORPORATE
    )
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_leads"
    )

    lifecycle_stage = FSMField(choices=Stage.choices, default=Stage.SUBSCRIBER, protected=True, db_index=True)

    fit_score = models.IntegerField(default=0)
    engagement_score = models.IntegerField(default=0)
    score = models.IntegerField(default=0, db_index=True)
    score_breakdown = models.JSONField(default=list, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    scoring_model_version = models.CharField(max_length=100, blank=True)
    # Set by the scoring service from the active model's thresholds; the MQL guard reads it.
    mql_criteria_met = models.BooleanField(default=False)
    # Why a lead may not become MQL (do_not_contact, customer, active_deal, competitor, ...); empty when none.
    suppression_reason = models.CharField(max_length=50, blank=True)
    # Events before this instant stop counting toward engagement (set on rejection).
    engagement_reset_at = models.DateTimeField(null=True, blank=True)

    is_recycled = models.BooleanField(default=False)
    do_not_contact = models.BooleanField(default=False)
    opted_out = models.BooleanField(default=False)
    hard_bounced = models.BooleanField(default=False)
    spam_complaint = models.BooleanField(default=False)

    # BANT confirmed at acceptance.
    budget = models.BooleanField(default=False)
    authority = models.BooleanField(default=False)
    need = models.BooleanField(default=False)
    timeline = models.BooleanField(default=False)

    reason_code = models.ForeignKey(
        ReasonCode, null=True, blank=True, on_delete=models.PROTECT, related_name="leads"
    )
    recycle_at = models.DateTimeField(null=True, blank=True, db_index=True)
    contract_renewal_date = models.DateField(null=True, blank=True)
    loss_reason = models.CharField(max_length=200, blank=True)
    nps = models.PositiveSmallIntegerField(null=True, blank=True)

    # A timestamp per stage reached (the latest time it was reached).
    lead_at = models.DateTimeField(null=True, blank=True)
    mql_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sql_at = models.DateTimeField(null=True, blank=True, db_index=True)
    opportunity_at = models.DateTimeField(null=True, blank=True)
    customer_at = models.DateTimeField(null=True, blank=True)
    evangelist_at = models.DateTimeField(null=True, blank=True)
    recycled_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # First time each funnel stage was reached (metrics count "first reached in range").
    first_mql_at = models.DateTimeField(null=True, blank=True, db_index=True)
    first_sql_at = models.DateTimeField(null=True, blank=True, db_index=True)
    first_opportunity_at = models.DateTimeField(null=True, blank=True, db_index=True)
    first_customer_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_engaged_at = models.DateTimeField(null=True, blank=True)

    history = history()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="lead_email_lower"),
            models.CheckConstraint(condition=models.Q(score=models.F("fit_score") + models.F("engagement_score")),
                                   name="lead_score_is_fit_plus_engagement"),
        ]
        indexes = [
            models.Index(fields=["owner", "lifecycle_stage"], name="lead_owner_stage_idx"),
            models.Index(fields=["lifecycle_stage", "segment"], name="lead_stage_segment_idx"),
        ]

    def __str__(self):
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    # ---- lifecycle transitions: they only set fields (STYLE rule 1) ----

    @transition(field=lifecycle_stage, source=Stage.SUBSCRIBER, target=Stage.LEAD, conditions=[_has_identity],
                custom={"label": "Identify"})
    def identify(self, *, at):
        self.lead_at = at

    @transition(field=lifecycle_stage, source=[Stage.LEAD, Stage.RECYCLED], target=Stage.MQL,
                conditions=[_marketing_qualified], custom={"label": "Qualify (marketing)"})
    def qualify_marketing(self, *, at):
        if self.lifecycle_stage == self.Stage.RECYCLED:
            self.is_recycled = True
        self.mql_at = at
        self.first_mql_at = self.first_mql_at or at

    @transition(field=lifecycle_stage, source=Stage.MQL, target=Stage.SQL, conditions=[_has_owner],
                custom={"label": "Accept (SQL)", "form": "leads.forms.AcceptForm"})
    def accept(self, *, at, budget: bool, authority: bool, need: bool, timeline: bool):
        confirmed = sum(bool(x) for x in (budget, authority, need, timeline))
        if confirmed < 2:
            raise ValidationError(
                {"bant": "At least 2 of budget, authority, need and timeline must be confirmed."}
            )
        self.budget, self.authority, self.need, self.timeline = budget, authority, need, timeline
        self.sql_at = at
        self.first_sql_at = self.first_sql_at or at

    @transition(field=lifecycle_stage, source=[Stage.MQL, Stage.SQL],
                target=RETURN_VALUE(Stage.RECYCLED, Stage.ARCHIVED),
                custom={"label": "Reject", "form": "leads.forms.RejectForm"})
    def reject(self, *, at, reason_code: ReasonCode, recycle_at=None, contract_renewal_date=None):
        if reason_code is None:
            raise ValidationError({"reason_code": "A reason code is required."})
        self.reason_code = reason_code
        self.engagement_reset_at = at
        self.recycle_at = recycle_at
        self.contract_renewal_date = contract_renewal_date
        self.mql_criteria_met = False
        if reason_code.action == ReasonCode.Action.ARCHIVE:
            self.archived_at = at
            return self.Stage.ARCHIVED
        self.recycled_at = at
        return self.Stage.RECYCLED

    @transition(field=lifecycle_stage, source=Stage.SQL, target=Stage.OPPORTUNITY,
                custom={"admin": False})
    def convert(self, *, at):
        self.opportunity_at = at
        self.first_opportunity_at = self.first_opportunity_at or at

    @transition(field=lifecycle_stage, source=Stage.OPPORTUNITY, target=Stage.CUSTOMER,
                custom={"admin": False})
    def win(self, *, at, deal_stage: str):
        if deal_stage != "closed_won":
            raise ValidationError({"deal": "The lead's deal must be closed won."})
        self.customer_at = at
        self.first_customer_at = self.first_customer_at or at

    @transition(field=lifecycle_stage, source=Stage.OPPORTUNITY, target=Stage.RECYCLED,
                custom={"admin": False})
    def lose(self, *, at, loss_reason: str):
        if not loss_reason:
            raise ValidationError({"loss_reason": "A loss reason is required."})
        self.loss_reason = loss_reason
        self.recycled_at = at
        self.engagement_reset_at = at
        self.mql_criteria_met = False

    @transition(field=lifecycle_stage, source=Stage.CUSTOMER, target=Stage.EVANGELIST,
                custom={"label": "Advocate", "form": "leads.forms.AdvocateForm"})
    def advocate(self, *, at, nps=None, referral: bool = False, case_study: bool = False):
        if not ((nps is not None and nps >= 9) or referral or case_study):
            raise ValidationError({"nps": "NPS 9-10, a referral or an agreed case study is required."})
        self.nps = nps
        self.evangelist_at = at

    @transition(field=lifecycle_stage, source=list(PRE_CUSTOMER), target=Stage.ARCHIVED,
                custom={"label": "Archive", "form": "leads.forms.ArchiveForm"})
    def archive(self, *, at, cause: str):
        if not cause:
            raise ValidationError({"cause": "A reason is required to archive."})
        self.archived_at = at
        self.recycle_at = None


class EngagementEvent(models.Model):
    class Type(models.TextChoices):
        DEMO_REQUEST = "demo_request"
        CONTACT_SALES = "contact_sales"
        PRICING_PAGE_VIEW = "pricing_page_view"
        FREE_TRIAL_SIGNUP = "free_trial_signup"
        CASE_STUDY_VIEW = "case_study_view"
        COMPARISON_PAGE_VIEW = "comparison_page_view"
        ROI_CALCULATOR = "roi_calculator"
        WEBINAR_REGISTRATION = "webinar_registration"
        WEBINAR_ATTENDANCE = "webinar_attendance"
        WHITEPAPER_DOWNLOAD = "whitepaper_download"
        BLOG_VISIT = "blog_visit"
        EMAIL_CLICK = "email_click"
        EMAIL_OPEN = "email_open"
        NEWSLETTER_OPEN = "newsletter_open"
        SOCIAL_ENGAGEMENT = "social_engagement"
        HOMEPAGE_VISIT = "homepage_visit"
        ACCOUNT_CREATED = "account_created"
        ONBOARDING_COMPLETED = "onboarding_completed"
        CORE_FEATURE_USED = "core_feature_used"
        TEAM_MEMBER_INVITED = "team_member_invited"
        USAGE_LIMIT_HIT = "usage_limit_hit"
        DATA_EXPORTED = "data_exported"
        INTEGRATION_CONNECTED = "integration_connected"
        UNSUBSCRIBE = "unsubscribe"
        HARD_BOUNCE = "hard_bounce"
        SPAM_COMPLAINT = "spam_complaint"
        CAREERS_PAGE_VIEW = "careers_page_view"
        MEETING_BOOKED = "meeting_booked"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40, choices=Type.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["lead", "occurred_at"], name="event_lead_time_idx")]
        ordering = ["occurred_at", "id"]

    def __str__(self):
        return f"{self.type} {self.lead_id} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class NurtureEnrollment(ConcurrentTransitionMixin, BaseModel):
    """A lead's place in one marketing nurture sequence; the marketing tool sends the email."""

    class Sequence(models.TextChoices):
        INITIAL = "initial", "Initial nurture"
        RECYCLING = "recycling", "Recycling nurture"
        CUSTOMER_ONBOARDING = "customer_onboarding", "Customer onboarding"

    class State(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        STOPPED = "stopped"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="nurture_enrollments")
    sequence = models.CharField(max_length=30, choices=Sequence.choices)
    state = FSMField(choices=State.choices, default=State.ACTIVE, protected=True)
    cadence_days = models.PositiveSmallIntegerField(default=7)
    ends_at = models.DateTimeField(null=True, blank=True, db_index=True)
    history = history()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "sequence"], name="nurture_one_per_sequence"),
        ]

    def __str__(self):
        return f"{self.lead_id} {self.sequence} ({self.state})"

    @transition(field=state, source=State.ACTIVE, target=State.PAUSED)
    def pause(self):
        pass

    @transition(field=state, source=State.PAUSED, target=State.ACTIVE)
    def resume(self):
        pass

    @transition(field=state, source=[State.ACTIVE, State.PAUSED], target=State.STOPPED)
    def stop(self):
        pass
