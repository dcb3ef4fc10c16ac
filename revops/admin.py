"""Lead admin lives at the top layer: its transition buttons run the same flows as the API."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_fsm.admin import FSMAdminMixin
from simple_history.admin import SimpleHistoryAdmin

from leads import access
from leads.models import Lead
from scoring.admin import ScoringModelAdmin
from scoring.models import ScoringModel

from .flows import lifecycle
from .flows import scoring as scoring_flow
from .models import Notification, WebhookAttempt, WebhookDelivery, WebhookSubscription


@admin.register(Lead)
class LeadAdmin(FSMAdminMixin, SimpleHistoryAdmin):
    fsm_fields = ["lifecycle_stage"]
    list_display = ["email", "full_name", "account", "lifecycle_stage", "score", "fit_score", "engagement_score",
                    "owner", "is_recycled", "mql_at", "created_at"]
    list_filter = ["lifecycle_stage", "segment", "source", "is_recycled", "title_level", "do_not_contact"]
    search_fields = ["email", "first_name", "last_name", "account__name", "account__domain"]
    list_select_related = ["account", "owner"]
    raw_id_fields = ["account", "owner"]
    readonly_fields = ["lifecycle_stage", "fit_score", "engagement_score", "score", "score_breakdown", "scored_at",
                       "mql_criteria_met", "suppression_reason", "mql_at", "sql_at", "opportunity_at",
                       "customer_at", "recycled_at", "archived_at", "is_recycled"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return access.restrict_leads(super().get_queryset(request), request.user)

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None):
        """Run the transition through the same service as the API (never a bare model call)."""
        try:
            lifecycle.lead_run_transition(lead=obj, transition=transition_name, actor=request.user,
                                          reason=f"admin: {transition_name}", **(kwargs or {}))
        except (TransitionNotAllowed, ConcurrentTransition, ValidationError) as error:
            self.message_user(request, f"{transition_name} failed: {error}", level=messages.ERROR)
            return False
        self.message_user(request, f"{transition_name} done.", level=messages.SUCCESS)
        return True


class ScoringModelActivationAdmin(ScoringModelAdmin):
    """Scoring models with the activation action, which runs the flow (rescoring can make MQLs)."""

    actions = ["activate_selected"]

    @admin.action(description="Activate (retire the segment's current model, rescore its leads)")
    def activate_selected(self, request, queryset):
        for model in queryset:
            model, job = scoring_flow.scoring_model_activate(model=model, actor=request.user,
                                                             note=f"activated in admin by {request.user}")
            messages.info(request, f"{model} active; rescoring {job.total} leads ({job.status}).")


admin.site.unregister(ScoringModel)
admin.site.register(ScoringModel, ScoringModelActivationAdmin)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "event", "recipient"]
    list_filter = ["channel", "event"]
    search_fields = ["recipient", "dedupe_key"]
    readonly_fields = ["channel", "event", "recipient", "payload", "dedupe_key", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "events", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "status_code", "error", "duration_ms"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["notification", "subscription", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "subscription"]
    search_fields = ["notification__event", "subscription__name"]
    readonly_fields = ["notification", "subscription", "status", "attempts", "next_attempt_at", "created_at"]
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    list_display = ["at", "delivery", "status_code", "error", "duration_ms"]
    list_filter = ["status_code"]
    search_fields = ["error", "delivery__subscription__name"]
    readonly_fields = ["delivery", "at", "status_code", "error", "duration_ms"]

    def has_add_permission(self, request):
        return False
