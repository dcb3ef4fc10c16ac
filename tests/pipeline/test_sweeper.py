import datetime as dt

import pytest

from pipeline import services
from pipeline.models import Deal, DealStageChange, Task
from tests.pipeline.factories import STAGE_DATA, DealFactory, fill

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)


def _discovery_deal(owner, at=T0):
    deal = fill(DealFactory(owner=owner), "discovery")
    return services.deal_transition(deal=deal, to="discovery", at=at)


def test_discovery_goes_stale_after_14_days_then_manager_after_7_more(ae, manager):
    deal = _discovery_deal(ae.user)
    assert deal.stale_owner_due_at == T0 + dt.timedelta(days=14)
    assert services.sweep_stale_deals(now=T0 + dt.timedelta(days=13)) == {"owner": 0, "manager": 0}
    day14 = T0 + dt.timedelta(days=14)
    assert services.sweep_stale_deals(now=day14) == {"owner": 1, "manager": 0}
    deal.refresh_from_db()
    assert deal.stale and deal.flags == ["stale"]
    task = Task.objects.get(deal=deal, kind="stale_deal")
    assert task.owner_id == ae.pk
    # Each step once: a second sweep (or a second sweeper) at the same or a later time changes nothing.
    assert services.sweep_stale_deals(now=day14) == {"owner": 0, "manager": 0}
    assert services.sweep_stale_deals(now=day14 + dt.timedelta(days=6)) == {"owner": 0, "manager": 0}
    assert services.sweep_stale_deals(now=day14 + dt.timedelta(days=7)) == {"owner": 0, "manager": 1}
    assert services.sweep_stale_deals(now=day14 + dt.timedelta(days=30)) == {"owner": 0, "manager": 0}
    tasks = Task.objects.filter(deal=deal, kind="stale_deal").order_by("id")
    assert [t.owner_id for t in tasks] == [ae.pk, manager.pk]


def test_moving_on_clears_stale_and_restarts_the_clock(ae):
    deal = _discovery_deal(ae.user)
    services.sweep_stale_deals(now=T0 + dt.timedelta(days=15))
    deal.refresh_from_db()
    later = T0 + dt.timedelta(days=16)
    services.deal_transition(deal=deal, to="demo", fields=STAGE_DATA["demo"], at=later)
    deal.refresh_from_db()
    assert not deal.stale and deal.stale_owner_at is None
    # Demo has no fixed limit and no history yet: no due time.
    assert deal.stale_owner_due_at is None


def test_stage_without_limit_uses_twice_the_historical_average(ae):
    # History: two finished Demo stints of 2 and 4 days -> average 3, limit 6 days.
    for days in (2, 4):
        old = DealFactory(owner=ae.user)
        DealStageChange.objects.create(deal=old, stage="demo", entered_at=T0 - dt.timedelta(days=30),
                                       left_at=T0 - dt.timedelta(days=30 - days), duration_seconds=days * 86400)
    deal = fill(DealFactory(owner=ae.user), "demo")
    services.deal_transition(deal=deal, to="demo", at=T0)
    deal.refresh_from_db()
    assert deal.stale_owner_due_at == T0 + dt.timedelta(days=6)
    assert services.sweep_stale_deals(now=T0 + dt.timedelta(days=5, hours=23))["owner"] == 0
    assert services.sweep_stale_deals(now=T0 + dt.timedelta(days=6))["owner"] == 1


def test_refresh_fills_due_times_once_history_exists(ae):
    deal = fill(DealFactory(owner=ae.user), "demo")
    services.deal_transition(deal=deal, to="demo", at=T0)
    assert Deal.objects.get(pk=deal.pk).stale_owner_due_at is None
    other = DealFactory(owner=ae.user)
    DealStageChange.objects.create(deal=other, stage="demo", entered_at=T0, left_at=T0 + dt.timedelta(days=1),
                                   duration_seconds=86400)
    assert services.sweep_stale_deals(now=T0 + dt.timedelta(days=2))["owner"] == 1


def test_closed_deals_are_never_swept(ae):
    deal = _discovery_deal(ae.user)
    Deal.objects.filter(pk=deal.pk).update(stage="closed_lost")
    assert services.sweep_stale_deals(now=T0 + dt.timedelta(days=100)) == {"owner": 0, "manager": 0}


def _stale_deals(n, owner):
    rows = [Deal(name=f"bulk {i}", owner=owner, stage="proposal", stage_entered_at=T0,
                 stale_owner_due_at=T0 + dt.timedelta(days=10)) for i in range(n)]
    Deal.objects.bulk_create(rows)


@pytest.mark.parametrize("n", [10, 1000])
def test_query_count_per_batch_is_independent_of_the_number_of_deals(ae, django_assert_num_queries, n):
    _stale_deals(n, ae.user)
    now = T0 + dt.timedelta(days=10)
    # refresh: stage limits (config, averages) and the configured stages (3); owner step: savepoint,
    # claim UPDATE, read claimed ids, INSERT ... SELECT tasks, release (5); manager step: savepoint,
    # claim UPDATE (none), release (3). The same 11 for 10 and for 1,000 deals in one batch.
    with django_assert_num_queries(11):
        result = services.sweep_stale_deals(now=now, batch_size=2000)
    assert result == {"owner": n, "manager": 0}
    assert Task.objects.filter(kind="stale_deal").count() == n


def test_two_sweepers_in_turn_make_each_task_once(ae, manager):
    _stale_deals(30, ae.user)
    now = T0 + dt.timedelta(days=10)
    first = services.sweep_stale_deals(now=now, batch_size=7)
    second = services.sweep_stale_deals(now=now, batch_size=7)
    assert first["owner"] == 30 and second == {"owner": 0, "manager": 0}
    assert Task.objects.filter(kind="stale_deal").count() == 30


def test_stale_notifications_go_out_once_per_batch(ae, manager, django_capture_on_commit_callbacks):
    from revops.models import Notification

    _stale_deals(3, ae.user)
    with django_capture_on_commit_callbacks(execute=True):
        services.sweep_stale_deals(now=T0 + dt.timedelta(days=10))
    assert Notification.objects.filter(event="deal.stale.owner", channel="webhook").count() == 1
    assert Notification.objects.filter(event="deal.stale.owner", channel="email").count() == 3


def test_task_entry_point_uses_the_clock(ae):
    from revops.jobs import sweep_stale_deals_task

    _stale_deals(2, ae.user)
    assert sweep_stale_deals_task(now=(T0 + dt.timedelta(days=11)).isoformat())["owner"] == 2
    assert sweep_stale_deals_task()["owner"] == 0
