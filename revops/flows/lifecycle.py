"""One entry point for a person-driven lifecycle transition (admin buttons, web app).

Transitions that start a cross-app flow (accept -> AE handoff and SQL SLAs, reject -> recycling)
go to their flow; the rest are plain ``leads.services.lead_transition``.
"""

from django.utils import timezone

from leads.services import lead_transition

from . import qualification


def lead_run_transition(*, lead, transition: str, actor, reason: str = "", **kwargs):
    """Dispatch a named transition with its form input to the service that owns it."""
    if transition == "accept":
        return qualification.lead_accept(lead=lead, actor=actor, **kwargs)
    if transition == "reject":
        code = kwargs.pop("reason_code", None)
        return qualification.lead_reject_with_code(lead=lead, actor=actor, reason_code=getattr(code, "code", code),
                                                   **kwargs)
    kwargs.setdefault("at", timezone.now())
    return lead_transition(lead=lead, transition=transition, actor=actor, reason=reason, **kwargs)
