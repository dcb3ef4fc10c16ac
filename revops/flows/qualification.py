"""Qualification outcomes (SPEC §3, §6): accept with BANT, reject with a reason code, convert to a deal.

Each flow runs in one transaction on a locked lead: a concurrent second call waits, then finds
the lead already moved and gets ``TransitionNotAllowed`` (409), writing nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from leads.models import Lead, ReasonCode
from leads.recycling import lead_reject
from leads.services import lead_transition
from pipeline.services import deal_create
from routing.services import lead_opportunity_created, lead_sla_close, lead_sql_handoff
from scoring.models import ScoreChange
from scoring.services import lead_rescore


def _locked(lead: Lead) -> Lead:
    return Lead.objects.select_for_update().get(pk=lead.pk)


@transaction.atomic
def lead_accept(*, lead: Lead, actor, budget: bool, authority: bool, need: bool, timeline: bool,
                at=None) -> Lead:
    """MQL -> SQL when the owner confirms at least 2 of BANT; an SDR's lead is handed to an AE."""
    at = at or timezone.now()
    lead = _locked(lead)
    if lead.lifecycle_stage != Lead.Stage.MQL:
        raise TransitionNotAllowed(f"Only an MQL can be accepted (this lead is {lead.lifecycle_stage}).")
    if lead.owner_id is None:
        raise ValidationError({"owner": "The lead needs an owner before it can be accepted."})
    lead_transition(lead=lead, transition="accept", actor=actor, reason="accepted by sales", at=at,
                    budget=budget, authority=authority, need=need, timeline=timeline)
    # The lead left MQL: its first-contact / qualification steps stop now, its first-contact task closes.
    lead_sla_close(lead=lead, at=at)
    # SDR -> AE handoff through routing, then the SQL SLAs (discovery call, opportunity).
    lead_sql_handoff(lead=lead, at=at, actor=actor)
    return lead


@transaction.atomic
def lead_reject_with_code(*, lead: Lead, actor, reason_code: str, contract_renewal_date: date | None = None,
                          at=None) -> Lead:
    """Reject with a known reason code: recycle or archive as the code says; engagement resets, fit stays."""
    code = ReasonCode.objects.filter(code=(reason_code or "").strip().upper(), active=True).first()
    if code is None:
        raise ValidationError({"reason_code": "A known reason code is required (FIT-01 ... QUAL-03)."})
    at = at or timezone.now()
    lead = _locked(lead)
    lead_reject(lead=lead, reason_code=code, at=at, actor=actor, contract_renewal_date=contract_renewal_date)
    # Earlier events stop counting: the stored scores follow at once (engagement 0, fit kept).
    lead_rescore(lead=lead, at=at, trigger=ScoreChange.Trigger.MANUAL, actor=actor)
    lead_sla_close(lead=lead, at=at)
    return lead


@transaction.atomic
def lead_convert(*, lead: Lead, actor, amount: Decimal, close_date: date, name: str = "", at=None):
    """SQL -> opportunity, creating its Deal (amount, expected close date) in the same transaction."""
    at = at or timezone.now()
    lead = _locked(lead)
    if lead.lifecycle_stage != Lead.Stage.SQL:
        raise TransitionNotAllowed(f"Only an SQL converts to an opportunity (this lead is {lead.lifecycle_stage}).")
    deal = deal_create(name=name or f"{lead.account.name if lead.account else lead.email} opportunity",
                       actor=actor, at=at, lead=lead, account=lead.account, owner=lead.owner, amount=amount,
                       close_date=close_date)
    lead_transition(lead=lead, transition="convert", actor=actor, reason=f"converted to deal {deal.pk}", at=at)
    # Stops the SQL clock's opportunity step (and closes the SQL phase).
    lead_opportunity_created(lead=lead, at=at)
    return lead, deal
