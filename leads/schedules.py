"""Background jobs of the leads app: name -> (function path, django-q2 schedule type, minutes)."""

SCHEDULES: dict[str, tuple[str, str, int | None]] = {
    "revops-recycling-sweep": ("revops.jobs.sweep_recycling", "I", 15),
}
