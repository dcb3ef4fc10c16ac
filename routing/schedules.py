"""Background jobs of the routing app: name -> (function path, django-q2 schedule type, minutes)."""

SCHEDULES: dict[str, tuple[str, str, int | None]] = {}
