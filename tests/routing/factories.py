"""Routing test helpers: reps with calendars, MQL leads, handoffs."""

import datetime as dt

from leads.models import Lead
from revops.flows.handoff import lead_handoff
from routing.models import Rep, Team
from tests import factories

UTC = dt.UTC


def team(**kwargs) -> Team:
    defaults = {"timezone": "UTC", "work_start": dt.time(9), "work_end": dt.time(17), "work_days": [0, 1, 2, 3, 4]}
    return factories.TeamFactory(**{**defaults, **kwargs})


def rep(*, team=None, role=Rep.Role.AE, **kwargs) -> Rep:
    kwargs.setdefault("capacity", 1000)
    kwargs.setdefault("quota_attainment", 1)
    return factories.RepFactory(team=team, role=role, **kwargs)


def mql_lead(*, at: dt.datetime, account=None, **kwargs) -> Lead:
    kwargs.setdefault("mql_at", at)
    if account is not None:
        kwargs["account"] = account
    return factories.LeadFactory(lifecycle_stage=Lead.Stage.MQL, mql_criteria_met=True, **kwargs)


def handed_off(*, at: dt.datetime, trigger: str = "", **kwargs):
    lead = mql_lead(at=at, **kwargs)
    assignment = lead_handoff(lead=lead, at=at, trigger=trigger)
    lead.refresh_from_db()
    return lead, assignment
