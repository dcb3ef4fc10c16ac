from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F

from leads.models import Account, EngagementEvent, Lead
from pipeline.models import Deal, DealStageChange, Task, missing_fields
from routing.models import LeadSla, Rep, Team, Territory

pytestmark = pytest.mark.django_db


def counts():
    return [m.objects.count() for m in (Team, Rep, Territory, Account, Lead, EngagementEvent, Deal)]


def test_seed_demo_is_idempotent_and_covers_every_stage():
    call_command("seed_demo", leads=250, accounts=40, stdout=StringIO())
    first = counts()
    call_command("seed_demo", leads=250, accounts=40, stdout=StringIO())
    assert counts() == first
    assert first[3:5] == [40, 250]
    assert set(Lead.objects.values_list("lifecycle_stage", flat=True)) == set(Lead.Stage.values)
    assert set(Deal.objects.values_list("stage", flat=True)) == set(Deal.Stage.values)
    assert set(Territory.objects.values_list("name", flat=True)) >= {"West", "Central", "East", "International"}
    assert Rep.objects.filter(role="manager").count() == Team.objects.count()
    assert not Rep.objects.exclude(role="manager").filter(backup__isnull=True).exists()


def test_seed_demo_makes_the_pages_meaningful():
    call_command("seed_demo", leads=250, accounts=40, stdout=StringIO())
    mqls = Lead.objects.filter(lifecycle_stage="mql")
    # Scored by the active models, routed through the real handoff, most with a first contact.
    assert Lead.objects.exclude(score_breakdown=[]).count() > 100
    assert mqls.exists()
    # Every open MQL has exactly one current assignment (the constraint makes the join one row each).
    assert mqls.filter(assignments__is_current=True).count() == mqls.count()
    assert LeadSla.objects.filter(first_contact_at__isnull=False).exists()
    assert Task.objects.filter(kind="first_contact").exists()
    # Deals carry their stage history, so time in stage and averages exist.
    assert DealStageChange.objects.filter(duration_seconds__isnull=False).exists()
    open_deals = Deal.objects.exclude(stage__in=["closed_won", "closed_lost"])
    # Each open deal has exactly one open stint: the one for the stage it is in.
    assert open_deals.filter(stage_changes__left_at__isnull=True, stage_changes__stage=F("stage")).count() == (
        open_deals.count())
    for deal in Deal.objects.all():
        assert missing_fields(deal, deal.stage) == [], deal.stage
