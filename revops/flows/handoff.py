"""MQL -> route -> handoff (SPEC §2): called right after a lead becomes MQL, in the same transaction."""

from django.db import transaction

from routing.services import lead_handoff as _route_and_hand_off


@transaction.atomic
def lead_handoff(*, lead, at, trigger: str, actor=None):
    """Route a lead that just became MQL and start its handoff; returns the current Assignment.

    In the caller's transaction: decision tree -> Assignment row (previous one no longer current)
    -> owner -> first-contact Task due in business time -> SLA clock and its escalation steps;
    email + webhook are enqueued on commit. Exactly once per MQL episode, even when several
    processes call it for the same lead at the same time (the lead row is locked first).
    """
    return _route_and_hand_off(lead=lead, at=at, trigger=trigger or "", actor=actor)
