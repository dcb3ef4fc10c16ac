"""People and data shared by the page tests: two teams, reps, a manager, an admin, leads in a queue."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from leads.models import Lead
from routing.models import Assignment, LeadSla, Rep
from tests import factories


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def team(db):
    return factories.TeamFactory(name="East")


@pytest.fixture
def other_team(db):
    return factories.TeamFactory(name="West")


@pytest.fixture
def manager(team):
    return factories.RepFactory(user__username="manager", team=team, role=Rep.Role.MANAGER).user


@pytest.fixture
def rep(team, manager):
    return factories.RepFactory(user__username="rep", team=team, manager=manager.rep).user


@pytest.fixture
def teammate(team):
    return factories.RepFactory(user__username="teammate", team=team).user


@pytest.fixture
def other_rep(other_team):
    return factories.RepFactory(user__username="other", team=other_team).user


@pytest.fixture
def admin(db):
    return factories.UserFactory(username="admin", is_staff=True, is_superuser=True)


def make_mql(*, owner=None, team=None, due_in=dt.timedelta(hours=2), source="webinar", **extra) -> Lead:
    now = timezone.now()
    lead = factories.LeadFactory(lifecycle_stage=Lead.Stage.MQL, owner=owner, mql_at=now, first_mql_at=now,
                                 source=source, **extra)
    Assignment.objects.create(lead=lead, rep=owner.rep if owner else None, team=team, rule="round_robin",
                              reason="fewest assignments this week", mql_at=now,
                              skipped=[{"rule": "named_account", "why": "no account owner"}])
    LeadSla.objects.create(lead=lead, policy_name="default", team=team, owner=owner, started_at=now,
                           clock_start=now, first_contact_due=now + due_in)
    return lead


@pytest.fixture
def rep_lead(rep, team):
    return make_mql(owner=rep, team=team, first_name="Robin", last_name="Owned")


@pytest.fixture
def queue_lead(team):
    return make_mql(owner=None, team=team, first_name="Quinn", last_name="Queue")


@pytest.fixture
def other_lead(other_rep, other_team):
    return make_mql(owner=other_rep, team=other_team, first_name="Olive", last_name="Other")
