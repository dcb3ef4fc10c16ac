"""Admin for marketing ops: edit models as JSON, activate, follow rescoring jobs and score history."""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from . import services
from .models import AccountScore, RescoreJob, ScoreChange, ScoringModel


@admin.register(ScoringModel)
class ScoringModelAdmin(SimpleHistoryAdmin):
    list_display = ["name", "version", "segment", "status", "mql_threshold", "min_fit", "min_engagement",
                    "activated_at", "approved_by"]
    list_filter = ["status", "segment"]
    search_fields = ["name"]
    readonly_fields = ["version", "status", "approved_by", "activated_at", "retired_at", "created_by"]

    def save_model(self, request, obj, form, change):
        """Creating goes through the service (a draft, next version); editing an active or retired
        model stores a new draft version instead of changing it."""
        data = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS if name in form.cleaned_data}
        if not change:
            created = services.scoring_model_create(actor=request.user, **data)
            obj.pk = created.pk
            return
        original = ScoringModel.objects.get(pk=obj.pk)
        result = services.scoring_model_update(model=original, actor=request.user, **data)
        if result.pk != original.pk:
            obj.pk = result.pk
            messages.info(request, f"Saved as a new draft: {result}.")


@admin.register(ScoreChange)
class ScoreChangeAdmin(admin.ModelAdmin):
    list_display = ["lead", "at", "trigger", "old_score", "new_score", "event", "scoring_model"]
    list_filter = ["trigger"]
    raw_id_fields = ["lead", "event"]
    list_select_related = ["lead", "event", "scoring_model"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RescoreJob)
class RescoreJobAdmin(admin.ModelAdmin):
    list_display = ["created_at", "segment", "trigger", "status", "processed", "total", "changed", "qualified"]
    list_filter = ["status", "trigger"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AccountScore)
class AccountScoreAdmin(admin.ModelAdmin):
    list_display = ["account", "engagement_score", "engaged_contacts", "committee_alerted_at"]
    raw_id_fields = ["account"]
