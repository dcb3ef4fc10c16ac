"""Scoring and event-ingestion benchmark (issue 3). Sets up its own throw-away database.

    .venv/bin/python bench/bench_scoring.py                       # SQLite (temp file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/revops_scoring .venv/bin/python bench/bench_scoring.py
    options: --leads 2000 --events 20000 --single 300 --rescore 10000

Prints, per database: bulk ingest+score events/s (scoring and MQL decisions included), the same rows
raw-inserted (bulk_create) for a ratio, single-event request latency p50/p99 (through the API view),
and set-based rescoring of --rescore leads (leads/s).
"""

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.test_settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402

TYPES = ["pricing_page_view", "email_click", "blog_visit", "webinar_attendance", "case_study_view",
         "email_open", "homepage_visit", "demo_request"]
WEIGHTS = [10, 20, 25, 3, 5, 25, 10, 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--rescore", type=int, default=10000)
    args = parser.parse_args()

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    logging.getLogger("revops.flows.events").setLevel(logging.ERROR)
    db = settings.DATABASES["default"]
    vendor = "postgresql" if "postgresql" in db["ENGINE"] else "sqlite"
    tmp = None
    if vendor == "sqlite":
        tmp = tempfile.NamedTemporaryFile(suffix=".sqlite3", delete=False)
        db.setdefault("TEST", {})["NAME"] = tmp.name
    else:
        db.setdefault("TEST", {})["NAME"] = "bench_" + db["NAME"]
    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        run(args, vendor)
    finally:
        teardown_databases(old, verbosity=0)
        if tmp:
            Path(tmp.name).unlink(missing_ok=True)


def make_items(rng, lead_ids, count, start, prefix):
    items = []
    for i in range(count):
        items.append({"lead": rng.choice(lead_ids), "type": rng.choices(TYPES, WEIGHTS)[0],
                      "occurred_at": (start + timedelta(minutes=rng.randint(0, 60 * 24 * 60))).isoformat(),
                      "idempotency_key": f"{prefix}-{i}", "properties": {"url": f"/p/{rng.randint(1, 5)}"}})
    return items


def run(args, vendor: str) -> None:
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from leads.models import Account, EngagementEvent, Lead
    from revops.flows.events import events_ingest_bulk
    from scoring import services

    rng = random.Random(7)
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    accounts = Account.objects.bulk_create(
        [Account(name=f"Co {i}", domain=f"co{i}.com", employees=rng.choice([20, 200, 2000]), industry="software",
                 country="US") for i in range(max(1, args.leads // 4))])
    titles = ["VP Sales", "Engineer", "Director IT", "Marketing Manager", "CEO", "Intern"]
    Lead.objects.bulk_create([
        Lead(email=f"p{i}@co{i % len(accounts)}.com", first_name="P", last_name=str(i), title=rng.choice(titles),
             account=accounts[i % len(accounts)], lifecycle_stage=Lead.Stage.LEAD) for i in range(args.leads)])
    lead_ids = list(Lead.objects.values_list("pk", flat=True))
    start = datetime.now(UTC) - timedelta(days=61)

    # 1. bulk path: parse, dedupe, store, rescore set-based, MQL decisions (handoff not installed: logged)
    items = make_items(rng, lead_ids, args.events, start, "bulk")
    t0 = time.perf_counter()
    for i in range(0, len(items), 1000):
        events_ingest_bulk(items=items[i : i + 1000], actor=user)
    bulk_seconds = time.perf_counter() - t0
    bulk_rate = len(items) / bulk_seconds

    # 2. the same rows raw-inserted (no parsing, no scoring)
    raw = [EngagementEvent(lead_id=it["lead"], type=it["type"], occurred_at=datetime.fromisoformat(it["occurred_at"]),
                           idempotency_key="raw-" + it["idempotency_key"], properties=it["properties"])
           for it in items]
    t0 = time.perf_counter()
    EngagementEvent.objects.bulk_create(raw, batch_size=1000)
    raw_rate = len(raw) / (time.perf_counter() - t0)

    # 3. single-event requests through the API (auth forced; full view, flow, scoring)
    client = APIClient()
    client.force_authenticate(user)
    latencies = []
    for it in make_items(rng, lead_ids, args.single, start, "single"):
        it["occurred_at"] = datetime.now(UTC).isoformat()
        t0 = time.perf_counter()
        response = client.post("/api/v1/events/", it, format="json")
        latencies.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 201, response.content
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]

    # 4. set-based rescoring of --rescore leads (activation / daily decay path)
    extra = args.rescore - Lead.objects.count()
    if extra > 0:
        Lead.objects.bulk_create([Lead(email=f"x{i}@co{i % len(accounts)}.com", title=rng.choice(titles),
                                       account=accounts[i % len(accounts)]) for i in range(extra)])
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True)[: args.rescore])
    t0 = time.perf_counter()
    _, changed = services.leads_rescore(lead_ids=ids, trigger="manual")
    rescore_seconds = time.perf_counter() - t0

    print(f"ingest+score {vendor}: {bulk_rate:,.0f} events/s ({len(items):,} events over {len(lead_ids):,} leads, "
          f"bulk of 1000, {bulk_seconds:.2f} s)")
    print(f"raw insert {vendor}: {raw_rate:,.0f} events/s; ingest+score / raw = {bulk_rate / raw_rate:.2f}")
    print(f"single event {vendor}: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(latencies)} requests "
          f"({1000 / p50:,.0f} events/s sequential)")
    print(f"rescore {vendor}: {len(ids):,} leads in {rescore_seconds:.2f} s = {len(ids) / rescore_seconds:,.0f} "
          f"leads/s ({changed:,} changed)")
    print(f"MQLs {vendor}: {Lead.objects.filter(lifecycle_stage='mql').count():,}")


if __name__ == "__main__":
    main()
