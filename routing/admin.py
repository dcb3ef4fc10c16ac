"""Admin for managers: teams, reps, territories, the routing tree, SLA policies and the audit of decisions."""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from . import services
from .models import Assignment, LeadSla, Rep, RoutingStep, SlaPolicy, SlaStep, Team, Territory


def _dry_run_leads(modeladmin, request, leads):
    for lead in leads:
        result = services.lead_route_dry_run(lead=lead)
        skipped = "; ".join(f"{s['rule']}: {s['why']}" for s in result.skipped) or "none"
        who = f"rep {result.rep_id}" if result.rep_id else f"team queue {result.team_id}"
        modeladmin.message_user(
            request, f"{lead.email} -> {who} by '{result.rule}' ({result.reason}); policy "
                     f"{result.policy.name if result.policy else '-'}; earlier rules: {skipped}",
            level=messages.INFO)


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ["name", "timezone", "work_start", "work_end", "work_days", "holiday_country",
                    "queue_sla_minutes"]
    search_fields = ["name"]
    list_filter = ["timezone", "holiday_country"]


@admin.register(Rep)
class RepAdmin(SimpleHistoryAdmin):
    list_display = ["user", "team", "role", "active", "on_pto", "capacity", "quota_attainment", "manager",
                    "backup", "last_assigned_at"]
    list_filter = ["team", "role", "active", "on_pto"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "team", "manager__user", "backup__user"]
    raw_id_fields = ["user", "manager", "backup"]
    filter_horizontal = ["territories"]


@admin.register(Territory)
class TerritoryAdmin(SimpleHistoryAdmin):
    list_display = ["name", "priority", "countries", "states", "min_employees", "max_employees", "industries",
                    "team", "owner"]
    list_filter = ["team"]
    search_fields = ["name"]


@admin.register(RoutingStep)
class RoutingStepAdmin(SimpleHistoryAdmin):
    list_display = ["order", "name", "kind", "active", "team", "role", "policy"]
    list_display_links = ["name"]
    list_editable = ["order", "active"]
    list_filter = ["kind", "active", "team"]
    search_fields = ["name"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(SimpleHistoryAdmin):
    list_display = ["name", "phase", "priority", "active", "abm_tiers", "segments", "triggers", "for_queue",
                    "first_contact_minutes", "qualification_minutes"]
    list_filter = ["phase", "active", "for_queue"]
    search_fields = ["name"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["created_at", "lead", "rep", "team", "rule", "note", "policy", "trigger", "is_current"]
    list_filter = ["rule", "is_current", "team", "trigger"]
    search_fields = ["lead__email", "rep__user__username", "reason", "note"]
    list_select_related = ["lead", "rep__user", "team"]
    readonly_fields = [f.name for f in Assignment._meta.fields]
    date_hierarchy = "created_at"
    actions = ["dry_run"]

    @admin.action(description="Dry run: who would get these leads now, and why")
    def dry_run(self, request, queryset):
        _dry_run_leads(self, request, [a.lead for a in queryset.select_related("lead__account")])

    def has_add_permission(self, request):
        return False  # decisions are made by the routing service, never typed in


class SlaStepInline(admin.TabularInline):
    model = SlaStep
    extra = 0
    can_delete = False
    fields = ["index", "action", "stops_on", "due_at", "status", "fired_at", "to", "note"]
    readonly_fields = fields


@admin.register(LeadSla)
class LeadSlaAdmin(admin.ModelAdmin):
    list_display = ["lead", "phase", "policy_name", "owner", "started_at", "first_contact_due", "first_contact_at",
                    "breached_at", "pipeline_review_at", "is_current"]
    list_filter = ["phase", "policy_name", "is_current", "team", ("pipeline_review_at", admin.EmptyFieldListFilter)]
    search_fields = ["lead__email", "owner__username"]
    list_select_related = ["lead", "owner"]
    readonly_fields = [f.name for f in LeadSla._meta.fields]
    inlines = [SlaStepInline]
    actions = ["dry_run"]

    @admin.action(description="Dry run: who would get these leads now, and why")
    def dry_run(self, request, queryset):
        _dry_run_leads(self, request, [s.lead for s in queryset.select_related("lead__account")])


@admin.register(SlaStep)
class SlaStepAdmin(admin.ModelAdmin):
    list_display = ["lead", "action", "due_at", "status", "fired_at", "to", "note"]
    list_filter = ["status", "action"]
    search_fields = ["lead__email"]
    list_select_related = ["lead", "to"]
    readonly_fields = [f.name for f in SlaStep._meta.fields]
