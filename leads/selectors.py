"""Permission-aware reads of leads."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from . import access
from .filters import LeadFilterSet
from .models import Lead

HISTORY_FIELDS = ("lifecycle_stage", "fit_score", "engagement_score", "score", "owner")


def lead_list_for(*, user, filters: dict | None = None) -> QuerySet[Lead]:
    """Leads the user may see, filtered by the shared FilterSet, newest first."""
    queryset = access.restrict_leads(Lead.objects.all(), user).order_by("-created_at", "-id")
    if filters:
        filterset = LeadFilterSet(filters, queryset=queryset)
        if not filterset.is_valid():
            from django.core.exceptions import ValidationError

            raise ValidationError({field: errors for field, errors in filterset.errors.items()})
        queryset = filterset.qs
    return queryset


def lead_get_for(*, user, lead_id: int, for_update: bool = False) -> Lead:
    """The lead, or 404 when it does not exist and PermissionDenied (403) when the user may not see it."""
    queryset = Lead.objects.select_for_update() if for_update else Lead.objects.all()
    lead = get_object_or_404(queryset, pk=lead_id)
    if not access.can_see_lead(user, lead):
        raise PermissionDenied("You may not see this lead.")
    return lead


def lead_check_change(*, user, email: str) -> None:
    """Anyone with a scope may add a new lead; changing an existing one needs the right to change it."""
    from .services import normalise_email

    if access.scope_for(user) == access.NONE:
        raise PermissionDenied("You have no sales profile.")
    existing = Lead.objects.filter(email=normalise_email(email)).only("pk", "owner_id").first()
    if existing is not None and not access.can_change_lead(user, existing):
        raise PermissionDenied("This lead belongs to someone else.")


def lead_history(*, lead: Lead) -> list[dict]:
    """Every stage, score and owner change: ``{at, by, field, old, new, reason}``, oldest first."""
    records = list(
        lead.history.select_related("history_user").order_by("history_date", "history_id")
    )
    changes: list[dict] = []
    previous = None
    for record in records:
        for field in HISTORY_FIELDS:
            attname = "owner_id" if field == "owner" else field
            new = getattr(record, attname)
            old = getattr(previous, attname) if previous is not None else None
            if previous is None and field != "lifecycle_stage" and not new:
                continue
            if previous is not None and old == new:
                continue
            changes.append(
                {
                    "at": record.history_date,
                    "by": record.history_user.get_username() if record.history_user else None,
                    "field": field,
                    "old": old,
                    "new": new,
                    "reason": record.history_change_reason or "",
                }
            )
        previous = record
    return changes
