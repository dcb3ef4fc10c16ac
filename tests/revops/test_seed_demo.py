import pytest
from django.core.management import call_command

from leads.models import Account, EngagementEvent, Lead
from pipeline.models import Deal
from routing.models import Rep, Team, Territory

pytestmark = pytest.mark.django_db


def counts():
    return [m.objects.count() for m in (Team, Rep, Territory, Account, Lead, EngagementEvent, Deal)]


def test_seed_demo_is_idempotent_and_covers_every_stage():
    call_command("seed_demo", leads=250, accounts=40, stdout=open("/dev/null", "w"))
    first = counts()
    call_command("seed_demo", leads=250, accounts=40, stdout=open("/dev/null", "w"))
    assert counts() == first
    assert first[3:5] == [40, 250]
    assert set(Lead.objects.values_list("lifecycle_stage", flat=True)) == set(Lead.Stage.values)
    assert set(Deal.objects.values_list("stage", flat=True)) == set(Deal.Stage.values)
    assert set(Territory.objects.values_list("name", flat=True)) >= {"West", "Central", "East", "International"}
    assert Rep.objects.filter(role="manager").count() == Team.objects.count()
    assert not Rep.objects.exclude(role="manager").filter(backup__isnull=True).exists()
