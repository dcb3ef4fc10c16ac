"""Lead intake: upsert the person, then everything the flow of SPEC §2 does with them."""

from django.db import transaction

from leads.services import lead_upsert


@transaction.atomic
def lead_intake(*, email: str, company: dict | None = None, actor=None, reason: str = "api", **profile):
    """Upsert a lead (dedupe by normalised email) and run the rest of the flow in the same transaction.

    Returns ``(lead, created)``.
    """
    lead, created = lead_upsert(email=email, company=company, actor=actor, reason=reason, **profile)
    return lead, created
