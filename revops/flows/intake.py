"""Lead intake: upsert the person, then everything the flow of SPEC §2 does with them."""

from django.db import transaction
from django.utils import timezone

from leads.services import lead_upsert
from scoring.models import ScoreChange

from .events import lead_score_and_qualify


@transaction.atomic
def lead_intake(*, email: str, company: dict | None = None, actor=None, reason: str = "api", **profile):
    """Upsert a lead (dedupe by normalised email) and run the rest of the flow in the same transaction:
    rescore with the active model of its segment, then MQL + handoff when it qualifies.

    Returns ``(lead, created)``.
    """
    lead, created = lead_upsert(email=email, company=company, actor=actor, reason=reason, **profile)
    lead_score_and_qualify(lead=lead, at=timezone.now(), trigger=ScoreChange.Trigger.INTAKE, actor=actor)
    return lead, created
