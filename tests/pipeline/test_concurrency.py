"""Two requests move one deal at the same moment: one wins, the other gets 409 and changes nothing."""

import threading

import pytest
from django.db import close_old_connections, connection

from pipeline.models import Deal, DealStageChange
from tests.conftest import as_user
from tests.pipeline.factories import STAGE_DATA, DealFactory, fill

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def test_concurrent_stage_changes_one_wins_one_409(ae):
    deal = fill(DealFactory(owner=ae.user), "discovery", "demo")
    barrier = threading.Barrier(2)
    results = {}

    real_save = Deal.save

    def synchronised_save(self, *args, **kwargs):
        # Both requests have loaded the deal in Qualified and validated before either writes.
        if threading.current_thread().name.startswith("mover"):
            barrier.wait(timeout=10)
        return real_save(self, *args, **kwargs)

    def run(to):
        try:
            response = as_user(ae.user).post(f"/api/v1/deals/{deal.pk}/transition/", {"to": to, **STAGE_DATA[to]},
                                             format="json")
            results[to] = response.status_code
        finally:
            close_old_connections()
            connection.close()

    Deal.save = synchronised_save
    try:
        threads = [threading.Thread(target=run, args=(to,), name=f"mover-{to}") for to in ("discovery", "demo")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        Deal.save = real_save

    assert sorted(results.values()) == [200, 409], results
    winner = next(to for to, code in results.items() if code == 200)
    deal.refresh_from_db()
    assert deal.stage == winner
    # The loser wrote nothing: exactly one stint was opened after Qualified.
    assert list(DealStageChange.objects.filter(deal=deal).exclude(stage="qualified").values_list(
        "stage", flat=True)) == [winner]
