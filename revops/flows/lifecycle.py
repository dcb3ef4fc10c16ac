"""One entry point for a person-driven lifecycle transition (admin buttons, web app, API).

Transitions that start a cross-app flow (accept -> AE handoff, reject -> recycling,
convert -> deal) go to their flow; the rest are plain ``leads.services.lead_transition``.
"""

from leads.services import lead_transition


def lead_run_transition(*, lead, transition: str, actor, reason: str = "", **kwargs):
    """Dispatch a named transition with its form input to the service that owns it."""
    return lead_transition(lead=lead, transition=transition, actor=actor, reason=reason, **kwargs)
