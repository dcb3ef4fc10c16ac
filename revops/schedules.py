"""Every background job and its cadence, declared once (STYLE rule 8).

Timers are due-at columns swept by one scheduled job each; the sweepers claim work
with conditional updates, so two clusters running the same schedule change nothing twice.
"""

from django.db import transaction

# name -> (function path, schedule type, minutes)
SCHEDULES: dict[str, tuple[str, str, int | None]] = {}

MANAGED_PREFIX = "revops-"


@transaction.atomic
def sync_schedules() -> tuple[int, int, int]:
    from django_q.models import Schedule

    created = updated = 0
    for name, (func, schedule_type, minutes) in SCHEDULES.items():
        schedule, was_created = Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": schedule_type, "minutes": minutes, "repeats": -1}
        )
        created += was_created
        updated += not was_created
    removed, _ = Schedule.objects.filter(name__startswith=MANAGED_PREFIX).exclude(name__in=SCHEDULES).delete()
    return created, updated, removed
