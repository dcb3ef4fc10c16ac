"""The write entry points of the web app: each calls the same service as the API endpoint.

| web action      | service (same as the API)                                  | API endpoint                       |
|-----------------|------------------------------------------------------------|------------------------------------|
| accept / reject | ``revops.flows.lifecycle.lead_run_transition``             | leads/{id}/accept/, reject/        |
| log activity    | ``routing.services.activity_log``                          | leads/{id}/activities/             |
| convert         | ``revops.flows.qualification.lead_convert``                | leads/{id}/convert/                |
| move a deal     | ``revops.flows.deals.deal_move`` (+ ``deal_update`` for a  | deals/{id}/transition/ (+ PATCH)   |
|                 | changed close date, which needs a reason)                  |                                    |
| approval        | ``pipeline.services.approval_decide``                      | deals/{id}/approve/, reject/       |
"""

from __future__ import annotations

from django.db import transaction

from revops.flows.lifecycle import lead_run_transition


def accept_lead(*, lead, actor, budget: bool, authority: bool, need: bool, timeline: bool):
    return lead_run_transition(lead=lead, transition="accept", actor=actor, reason="accepted (BANT)",
                               budget=budget, authority=authority, need=need, timeline=timeline)


def reject_lead(*, lead, actor, reason_code, contract_renewal_date=None):
    kwargs = {"reason_code": reason_code}
    if contract_renewal_date:
        kwargs["contract_renewal_date"] = contract_renewal_date
    return lead_run_transition(lead=lead, transition="reject", actor=actor,
                               reason=f"rejected: {reason_code.code}", **kwargs)


def log_activity(*, lead, actor, kind: str, occurred_at, note: str = ""):
    """A sales touch; the first after the MQL is the first contact (stops the SLA chain)."""
    from routing.services import activity_log

    activity, _first_contact = activity_log(lead=lead, kind=kind, occurred_at=occurred_at, note=note, actor=actor)
    return activity


def convert_lead(*, lead, actor, name: str, amount, close_date):
    """SQL -> opportunity with its new deal; returns the deal."""
    from revops.flows.qualification import lead_convert

    _lead, deal = lead_convert(lead=lead, actor=actor, amount=amount, close_date=close_date, name=name)
    return deal


def move_deal(*, deal, actor, to: str, fields: dict, reason: str = ""):
    """Move a deal to ``to`` with the target stage's fields (a changed close date goes through deal_update)."""
    from pipeline.services import deal_update
    from revops.flows.deals import deal_move

    fields = dict(fields)
    with transaction.atomic():
        close_date = fields.pop("close_date", None)
        if close_date is not None and close_date != deal.close_date:
            deal = deal_update(deal=deal, actor=actor, close_date=close_date,
                               close_date_reason=reason or f"set when moving to {to}")
        return deal_move(deal=deal, to=to, actor=actor, reason=reason, fields=fields)


def decide_approval(*, approval, actor, approve: bool, note: str = ""):
    from pipeline.services import approval_decide

    return approval_decide(deal=approval.deal, actor=actor, approve=approve, approval_id=approval.pk, note=note)
