"""Routing benchmark: handoffs per second and SLA sweeper throughput at 1k / 10k due leads.

Run: .venv/bin/python bench/bench_routing.py   (own temp SQLite file; set DATABASE_URL for PostgreSQL
— it must point at a throwaway database: tables are created with migrate and rows are written).
"""

import datetime as dt
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_tmp = tempfile.mkdtemp()
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.test_settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

AT = dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC)


def main():
    call_command("migrate", verbosity=0)
    # Measure the request path, not the delivery: enqueue to the ORM broker as production does
    # (test settings run django-q2 synchronously, which would time email + webhook delivery too).
    from django_q.conf import Conf

    Conf.SYNC = False
    from leads.models import Account, Lead
    from revops.flows.handoff import lead_handoff
    from routing.models import LeadSla, SlaPolicy, SlaStep
    from routing.services import rep_create, sla_sweep, team_create

    team = team_create(name=f"Bench {time.time()}")
    for i in range(10):
        rep_create(username=f"bench{time.time()}-{i}", email=f"b{i}@x.io", team=team, role="ae", capacity=100000)

    n = 1000
    accounts = Account.objects.bulk_create([Account(name=f"B{i}", domain=f"b{i}-{time.time()}.io") for i in range(n)])
    leads = Lead.objects.bulk_create([Lead(email=f"l{i}@{a.domain}", account=a, lifecycle_stage="mql",
                                           mql_criteria_met=True, mql_at=AT) for i, a in enumerate(accounts)])
    start = time.perf_counter()
    for lead in leads:
        with transaction.atomic():
            lead_handoff(lead=lead, at=AT, trigger="demo_request")
    elapsed = time.perf_counter() - start
    print(f"handoff (route + assignment + task + SLA): {n / elapsed:,.0f} assignments/s "
          f"({elapsed / n * 1000:.2f} ms each, {n} leads)")

    policy = SlaPolicy.objects.get(name="Speed-to-lead (hot leads)")
    owner_id = leads[0].owner_id if leads[0].owner_id else Lead.objects.get(pk=leads[0].pk).owner_id
    for size in (1000, 10000):
        SlaStep.objects.filter(status="pending").update(status="cancelled")
        accounts = Account.objects.bulk_create([Account(name=f"S{i}", domain=f"s{size}-{i}-{time.time()}.io")
                                                for i in range(size)])
        batch = Lead.objects.bulk_create([Lead(email=f"s{i}@{a.domain}", account=a, lifecycle_stage="mql",
                                               mql_criteria_met=True, mql_at=AT, owner_id=owner_id)
                                          for i, a in enumerate(accounts)])
        slas = LeadSla.objects.bulk_create([LeadSla(lead=lead, policy=policy, policy_name=policy.name, team=team,
                                                    owner_id=owner_id, started_at=AT, clock_start=AT,
                                                    first_contact_due=AT + dt.timedelta(minutes=5))
                                            for lead in batch])
        SlaStep.objects.bulk_create([SlaStep(sla=s, lead_id=s.lead_id, index=0, action="remind_owner",
                                             due_at=AT + dt.timedelta(minutes=5), breach=True) for s in slas])
        start = time.perf_counter()
        result = sla_sweep(now=AT + dt.timedelta(minutes=6), batch_size=500)
        elapsed = time.perf_counter() - start
        print(f"sweeper, {size:>6} due leads: {result.fired} steps in {elapsed:.2f}s = "
              f"{result.fired / elapsed:,.0f} steps/s ({result.batches} batches of 500)")


if __name__ == "__main__":
    main()
