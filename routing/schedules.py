"""Background jobs of the routing app: name -> (function path, django-q2 schedule type, minutes).

Upserted by ``manage.py sync_schedules`` (never at import). One sweeper for every SLA timer.
"""

SCHEDULES: dict[str, tuple[str, str, int | None]] = {
    "revops-sla-sweep": ("revops.jobs.sweep_sla", "I", 1),  # django_q Schedule.MINUTES == "I"
}
