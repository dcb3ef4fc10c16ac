"""Admin for managers: deals (stage buttons run the services), approvals, config, tasks, activities."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_fsm.admin import FSMAdminMixin
from simple_history.admin import SimpleHistoryAdmin

from leads import access

from . import services
from .models import (
    TRANSITION_FOR,
    Activity,
    Approval,
    CloseDateChange,
    Deal,
    DealDeskConfig,
    DealStageChange,
    StageConfig,
    Task,
)

STAGE_FOR = {method: stage for stage, method in TRANSITION_FOR.items()}


class StageChangeInline(admin.TabularInline):
    model = DealStageChange
    extra = 0
    can_delete = False
    fields = ["from_stage", "stage", "entered_at", "left_at", "duration_seconds", "backward", "skipped", "reason",
              "actor"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ApprovalInline(admin.TabularInline):
    model = Approval
    extra = 0
    can_delete = False
    fields = ["tier", "exception", "exception_text", "state", "requested_by", "decided_by", "decided_at", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Deal)
class DealAdmin(FSMAdminMixin, SimpleHistoryAdmin):
    fsm_fields = ["stage"]
    list_display = ["name", "stage", "owner", "amount", "close_date", "close_date_pushes", "stale", "stage_skipped",
                    "forecast_review", "needs_approval", "stage_entered_at"]
    list_filter = ["stage", "stale", "stage_skipped", "forecast_review", "needs_approval"]
    search_fields = ["name", "account__name", "account__domain", "lead__email"]
    raw_id_fields = ["owner", "cs_owner", "account", "lead"]
    filter_horizontal = ["contacts"]
    date_hierarchy = "created_at"
    inlines = [StageChangeInline, ApprovalInline]
    # Flags, counters and timers are maintained by the services and the sweeper, never typed in.
    readonly_fields = ["stage_entered_at", "closed_at", "stage_skipped", "stale", "forecast_review", "needs_approval",
                       "close_date_pushes", "stale_owner_due_at", "stale_owner_at", "stale_manager_due_at",
                       "stale_manager_at", "stale_claim", "cs_owner"]

    def get_queryset(self, request):
        return access.restrict_by_owner(super().get_queryset(request), request.user)

    def save_model(self, request, obj, form, change):
        if change and "close_date" in form.changed_data and form.initial.get("close_date") is not None:
            # The admin form has no reason field: keep the discipline by refusing a silent push.
            raise PermissionDenied("Change the close date through the app or API (a reason is required).")
        if not change:
            fields = {k: v for k, v in form.cleaned_data.items()
                      if k in services.EDITABLE_FIELDS or k == "close_date"}
            fields.pop("name", None)
            created = services.deal_create(name=form.cleaned_data["name"], actor=request.user, **fields)
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        super().save_model(request, obj, form, change)

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None):
        """Admin stage buttons go through the service (history, skip flags, timers, approvals)."""
        stage = STAGE_FOR.get(transition_name)
        try:
            if stage is None or stage in Deal.CLOSED:
                raise TransitionNotAllowed("Close deals in the app: closing runs the customer handoff.")
            services.deal_transition(deal=obj, to=stage, actor=request.user,
                                     reason=(kwargs or {}).get("reason", ""))
        except (TransitionNotAllowed, ConcurrentTransition) as exc:
            self.message_user(request, f"Not moved: {exc}", level=messages.ERROR)
            return False
        except ValidationError as exc:
            self.message_user(request, f"Not moved: {'; '.join(exc.messages)}", level=messages.ERROR)
            return False
        self.message_user(request, f"Moved to {obj.get_stage_display()}.", level=messages.SUCCESS)
        return True


@admin.register(Approval)
class ApprovalAdmin(SimpleHistoryAdmin):
    list_display = ["deal", "tier", "approver_role", "exception", "exception_text", "state", "requested_by",
                    "decided_by", "decided_at"]
    list_filter = ["state", "tier", "exception"]
    search_fields = ["deal__name", "exception_text", "note"]
    raw_id_fields = ["deal", "requested_by", "decided_by"]
    # Decisions go through the API (role checks); the admin is a read-only ledger of exceptions.
    readonly_fields = ["deal", "tier", "approver_role", "exception", "exception_text", "terms_key", "state",
                       "requested_by", "decided_by", "decided_at", "note"]

    def has_add_permission(self, request):
        return False


@admin.register(StageConfig)
class StageConfigAdmin(SimpleHistoryAdmin):
    list_display = ["stage", "stale_after_days"]
    list_editable = ["stale_after_days"]


@admin.register(DealDeskConfig)
class DealDeskConfigAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "acv_threshold", "manager_discount_pct", "vp_discount_pct", "deal_desk_discount_pct",
                    "multi_year_months"]


@admin.register(Task)
class TaskAdmin(SimpleHistoryAdmin):
    list_display = ["title", "kind", "owner", "lead", "deal", "due_at", "completed_at"]
    list_filter = ["kind", ("completed_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "dedupe_key", "lead__email", "deal__name"]
    raw_id_fields = ["owner", "lead", "deal"]
    date_hierarchy = "due_at"

    def get_queryset(self, request):
        return access.restrict_by_owner(super().get_queryset(request), request.user)


@admin.register(Activity)
class ActivityAdmin(SimpleHistoryAdmin):
    list_display = ["kind", "lead", "deal", "rep", "occurred_at"]
    list_filter = ["kind"]
    search_fields = ["lead__email", "deal__name", "note"]
    raw_id_fields = ["lead", "deal", "rep"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request):
        return access.restrict_by_owner(super().get_queryset(request), request.user, "rep")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Facts recorded by the services: listed and searchable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(
            deal__in=access.restrict_by_owner(Deal.objects.all(), request.user))


@admin.register(DealStageChange)
class DealStageChangeAdmin(ReadOnlyAdmin):
    list_display = ["deal", "from_stage", "stage", "entered_at", "left_at", "duration_seconds", "backward", "actor"]
    list_filter = ["stage", "backward"]
    search_fields = ["deal__name", "reason"]
    list_select_related = ["deal", "actor"]


@admin.register(CloseDateChange)
class CloseDateChangeAdmin(ReadOnlyAdmin):
    list_display = ["deal", "old_date", "new_date", "is_push", "reason", "actor", "at"]
    list_filter = ["is_push"]
    search_fields = ["deal__name", "reason"]
    list_select_related = ["deal", "actor"]
