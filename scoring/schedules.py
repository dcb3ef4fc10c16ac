"""Background jobs of the scoring app: name -> (function path, django-q2 schedule type, minutes)."""

SCHEDULES: dict[str, tuple[str, str, int | None]] = {
    # Time moves scores: decay and inactivity rules are re-applied once a day (set-based).
    "revops-scoring-daily-decay": ("revops.jobs.rescore_decayed_leads", "D", None),
}
