"""Every background job and its cadence, declared once per app and upserted by name (STYLE rule 8).

Timers are due-at columns swept by one scheduled job each; the sweepers claim work
with conditional updates, so two clusters running the same schedule change nothing twice.
"""

from django.db import transaction

import leads.schedules
import pipeline.schedules
import routing.schedules
import scoring.schedules

MANAGED_PREFIX = "revops-"

# Cross-app jobs owned by revops itself.
SCHEDULES: dict[str, tuple[str, str, int | None]] = {
    "revops-webhook-retry": ("revops.jobs.retry_webhooks", "I", 1),
}


def all_schedules() -> dict[str, tuple[str, str, int | None]]:
    merged: dict[str, tuple[str, str, int | None]] = dict(SCHEDULES)
    for module in (leads.schedules, scoring.schedules, routing.schedules, pipeline.schedules):
        merged.update(module.SCHEDULES)
    return merged


@transaction.atomic
def sync_schedules() -> tuple[int, int, int]:
    """Create or update each declared schedule by name; delete managed ones no longer declared."""
    from django_q.models import Schedule

    declared = all_schedules()
    created = updated = 0
    for name, (func, schedule_type, minutes) in declared.items():
        _, was_created = Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": schedule_type, "minutes": minutes, "repeats": -1}
        )
        created += was_created
        updated += not was_created
    removed, _ = Schedule.objects.filter(name__startswith=MANAGED_PREFIX).exclude(name__in=declared).delete()
    return created, updated, removed
