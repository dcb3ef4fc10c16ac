"""Background jobs of the leads app: name -> (function path, django-q2 schedule type, minutes)."""

SCHEDULES: dict[str, tuple[str, str, int | None]] = {
    "revops-recycling-sweep": ("leads.recycling.sweep_recycling_task", "I", 15),
}
