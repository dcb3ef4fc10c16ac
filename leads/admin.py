"""Admin for managers: accounts, reason codes, events, nurture enrollments (leads are in revops/admin.py)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from . import access
from .models import Account, EngagementEvent, NurtureEnrollment, ReasonCode


class ScopedAdmin(SimpleHistoryAdmin):
    """Managers see their team's records; RevOps admins everything (leads.access)."""

    owner_field = "owner"

    def get_queryset(self, request):
        return access.restrict_by_owner(super().get_queryset(request), request.user, self.owner_field)


@admin.register(Account)
class AccountAdmin(SimpleHistoryAdmin):
    list_display = ["name", "domain", "employees", "industry", "country", "state", "abm_tier", "owner"]
    list_filter = ["abm_tier", "industry", "country"]
    search_fields = ["name", "domain"]
    raw_id_fields = ["owner"]


@admin.register(ReasonCode)
class ReasonCodeAdmin(SimpleHistoryAdmin):
    list_display = ["code", "reason", "action", "recycle_days", "active"]
    list_filter = ["action", "active"]
    search_fields = ["code", "reason"]


@admin.register(EngagementEvent)
class EngagementEventAdmin(admin.ModelAdmin):
    list_display = ["type", "lead", "occurred_at", "received_at", "idempotency_key"]
    list_filter = ["type"]
    search_fields = ["lead__email", "idempotency_key"]
    raw_id_fields = ["lead"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("lead")
        return queryset.filter(lead__in=access.restrict_leads(
            EngagementEvent._meta.get_field("lead").related_model.objects.all(), request.user))

    def has_change_permission(self, request, obj=None):
        return False  # events are facts: never edited


@admin.register(NurtureEnrollment)
class NurtureEnrollmentAdmin(SimpleHistoryAdmin):
    list_display = ["lead", "sequence", "state", "cadence_days", "ends_at"]
    list_filter = ["sequence", "state"]
    search_fields = ["lead__email"]
    raw_id_fields = ["lead"]
    readonly_fields = ["state"]
