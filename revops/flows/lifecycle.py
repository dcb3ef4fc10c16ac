"""One entry point for a person-driven lifecycle transition (admin buttons, web app).

Transitions that start a cross-app flow go to their flow: accept (AE handoff, SQL SLAs),
reject (recycling), qualify (route and hand off). Every other transition is a plain
``leads.services.lead_transition``, after which an SLA clock of a stage the lead left is closed.
"""

from django.db import transaction
from django.utils import timezone

from leads.services import lead_transition
from routing.services import lead_sla_close

from . import qualification
from .handoff import lead_handoff


@transaction.atomic
def lead_run_transition(*, lead, transition: str, actor, reason: str = "", **kwargs):
    """Dispatch a named transition with its form input to the service that owns it."""
    if transition == "accept":
        return qualification.lead_accept(lead=lead, actor=actor, **kwargs)
    if transition == "reject":
        code = kwargs.pop("reason_code", None)
        return qualification.lead_reject_with_code(lead=lead, actor=actor, reason_code=getattr(code, "code", code),
                                                   **kwargs)
    at = kwargs.setdefault("at", timezone.now())
    lead = lead_transition(lead=lead, transition=transition, actor=actor, reason=reason, **kwargs)
    if transition == "qualify_marketing":
        lead_handoff(lead=lead, at=at, trigger="manual", actor=actor)
    else:
        lead_sla_close(lead=lead, at=at)
    return lead
