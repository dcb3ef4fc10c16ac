"""Background jobs of the pipeline app: name -> (function path, django-q2 schedule type, minutes)."""

# django_q.models.Schedule.MINUTES; the literal avoids importing models before the app registry is ready.
MINUTES = "I"

SCHEDULES: dict[str, tuple[str, str, int | None]] = {
    # One sweeper over due-at columns (STYLE rule 9); staleness is counted in days, so hourly is plenty.
    "revops-stale-deals": ("revops.jobs.sweep_stale_deals_task", MINUTES, 60),
}
