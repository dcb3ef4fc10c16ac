"""Pipeline test factories (shared ones are in tests/factories.py)."""

import datetime as dt

import factory
from django.utils import timezone

from pipeline.models import Deal
from tests import factories

STAGE_DATA = {
    "discovery": {"pain_points": "manual reporting", "current_solution": "spreadsheets", "timeline": "Q3"},
    "demo": {"technical_requirements": "SSO, API", "decision_makers": "CFO, VP Ops"},
    "proposal": {"pricing": "list price", "terms": "annual", "stakeholder_map": "champion: VP Ops"},
    "negotiation": {"redlines": "liability cap", "approval_chain": "CFO then legal", "close_date": "2030-06-30"},
    "closed_won": {"signed_contract": "DocuSign 123", "payment_terms": "net 30"},
    "closed_lost": {"loss_reason": "no budget"},
}


class DealFactory(factory.django.DjangoModelFactory):
    """A deal saved directly at ``stage`` with Qualified's data filled in."""

    class Meta:
        model = Deal

    name = factory.Sequence(lambda n: f"Deal {n}")
    lead = factory.SubFactory(factories.LeadFactory, lifecycle_stage="opportunity", source="webinar")
    account = factory.LazyAttribute(lambda d: d.lead.account)
    owner = factory.LazyAttribute(lambda d: factories.RepFactory().user)
    amount = 10000
    close_date = dt.date(2030, 3, 31)
    source = "webinar"
    fit_score = 40
    stage = Deal.Stage.QUALIFIED
    stage_entered_at = factory.LazyFunction(timezone.now)


def fill(deal, *stages):
    """Give a deal the data of ``stages`` (direct save: tests only)."""
    for stage in stages:
        for key, value in STAGE_DATA[stage].items():
            setattr(deal, key, dt.date.fromisoformat(value) if key == "close_date" else value)
    deal.save()
    return deal
