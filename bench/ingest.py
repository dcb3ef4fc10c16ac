"""Event ingestion benchmark (issue 3 item 10): bulk ingest+score on SQLite and PostgreSQL.

    .venv/bin/python bench/ingest.py                      # both databases (what `make bench` runs)
    .venv/bin/python bench/ingest.py --events 50000 --leads 5000 --databases sqlite
    .venv/bin/python bench/ingest.py --databases sqlite --profile   # cProfile of the bulk phase

Per database, in one run on a fresh database this script creates and drops itself (SQLite: a temp
file; PostgreSQL: ``revops_bench`` on ``--pg-url``, skipped with a message when unreachable):

1. ``--events`` events over ``--leads`` leads go through the bulk service the
   ``POST /api/v1/events/bulk/`` endpoint calls (``events_ingest_bulk``), in requests of 1,000:
   parsing, idempotency, storing, rescoring, MQL decisions and the handoff of new MQLs (routing to
   ten reps, assignment, task, SLA clock; notifications are enqueued to the ORM broker as in
   production, not delivered). The stream is chronological over 60 days, with 1% retried keys and 5%
   of events naming the lead by email.
2. The same rows raw-inserted (``bulk_create`` in batches of 1,000, one transaction each) into the
   same empty table, for the ratio.
3. ``--single`` single-event requests through the API view (``POST /api/v1/events/`` with the DRF
   test client) on the filled database: p50 / p99 latency.
4. Set-based rescoring of every lead (what a model activation or the daily decay job runs): leads/s.

Each database runs in its own child process (settings are read once per process).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgres://postgres@127.0.0.1:5432/revops_bench"
BATCH = 1000
# A marketing-automation-like mix: mostly opens/visits, some high-intent pages, few hand-raisers.
TYPES = {
    "email_open": 22, "blog_visit": 18, "homepage_visit": 10, "email_click": 12, "newsletter_open": 6,
    "pricing_page_view": 8, "case_study_view": 5, "webinar_registration": 3, "webinar_attendance": 2,
    "whitepaper_download": 3, "comparison_page_view": 2, "core_feature_used": 3, "account_created": 1,
    "free_trial_signup": 1, "roi_calculator": 1, "social_engagement": 2, "demo_request": 0.4,
    "contact_sales": 0.2, "unsubscribe": 0.3, "careers_page_view": 0.5,
}
TITLES = ["VP Sales", "Software Engineer", "Director of IT", "Marketing Manager", "CEO", "Intern",
          "Head of Growth", "Account Executive", "CFO", "Data Analyst"]
SEGMENTS = ["default"] * 7 + ["plg", "enterprise", "mid_market"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=1000, help="single-event requests timed")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL, help="its database is created and dropped by the run")
    parser.add_argument("--profile", action="store_true", help="cProfile the bulk phase (top functions)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------- parent: one child per database


def main() -> int:
    args = parse_args()
    if args.child:
        return child(args)
    failures = 0
    for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "revops.test_settings", "SECRET_KEY": "bench-only",
               "DEBUG": "0", "LOG_LEVEL": "WARNING"}
        tmpdir = None
        if database == "sqlite":
            tmpdir = tempfile.mkdtemp(prefix="revops-bench-")
            env["DATABASE_URL"] = f"sqlite:///{tmpdir}/bench.sqlite3"
        elif database == "postgresql":
            problem = pg_unreachable(args.pg_url)
            if problem:
                print(f"skip postgresql: {args.pg_url} unreachable ({problem})", flush=True)
                continue
            env["DATABASE_URL"] = args.pg_url
        else:
            print(f"unknown database {database!r} (sqlite, postgresql)")
            failures += 1
            continue
        command = [sys.executable, __file__, "--child", database, *sys.argv[1:]]
        failures += subprocess.call(command, env=env, cwd=ROOT) != 0
        if tmpdir:
            for path in Path(tmpdir).glob("*"):
                path.unlink(missing_ok=True)
            Path(tmpdir).rmdir()
    return 1 if failures else 0


def pg_unreachable(url: str) -> str:
    try:
        import psycopg
    except ImportError as exc:
        return str(exc)
    base = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(base, connect_timeout=3):
            return ""
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def pg_recreate(url: str, *, drop_only: bool = False) -> None:
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# ---------------------------------------------------------------- child: one database


def child(args) -> int:
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")
    sys.path.insert(0, str(ROOT))
    database = args.child
    if database == "postgresql":
        pg_recreate(os.environ["DATABASE_URL"])
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django_q.conf import Conf

        call_command("migrate", verbosity=0)
        # Production enqueues to the ORM broker; the test settings would run tasks inline.
        Conf.SYNC = False
        run(args, database)
        connection.close()
    finally:
        if database == "postgresql":
            from django.db import connections

            connections.close_all()
            pg_recreate(os.environ["DATABASE_URL"], drop_only=True)
    return 0


def setup_data(args, rng):
    from django.contrib.auth import get_user_model

    from leads.models import Account, Lead
    from routing.services import rep_create, team_create

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    team = team_create(name="Bench team")
    for i in range(10):
        rep_create(username=f"rep{i}", email=f"rep{i}@ourco.io", team=team, role="sdr", capacity=1_000_000)
    n_accounts = max(1, args.leads // 4)
    Account.objects.bulk_create([
        Account(name=f"Company {i}", domain=f"co{i}.com", employees=rng.choice([8, 40, 200, 800, 3000, 20000]),
                annual_revenue=rng.choice([1_000_000, 20_000_000, 300_000_000]),
                industry=rng.choice(["software", "fintech", "retail", "healthcare", "manufacturing"]),
                country=rng.choice(["US", "US", "GB", "DE", "FR", "IN"])) for i in range(n_accounts)],
        batch_size=1000)
    account_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    stages = [Lead.Stage.LEAD] * 16 + [Lead.Stage.SUBSCRIBER] * 3 + [Lead.Stage.SQL]
    leads = []
    for i in range(args.leads):
        index = i % n_accounts
        personal = rng.random() < 0.1
        leads.append(Lead(
            email=f"p{i}@{'gmail.com' if personal else f'co{index}.com'}", first_name="P", last_name=str(i),
            title=rng.choice(TITLES), account_id=account_ids[index], segment=rng.choice(SEGMENTS),
            source=rng.choice(["web", "webinar", "paid", "partner"]), lifecycle_stage=rng.choice(stages)))
    Lead.objects.bulk_create(leads, batch_size=1000)
    rows = list(Lead.objects.order_by("pk").values_list("pk", "email"))
    return user, [r[0] for r in rows], [r[1] for r in rows]


def make_items(rng, lead_ids, emails, count, start, end, prefix):
    names, weights = list(TYPES), list(TYPES.values())
    span = (end - start).total_seconds()
    times = sorted(rng.random() * span for _ in range(count))
    items = []
    for i, offset in enumerate(times):
        index = rng.randrange(len(lead_ids))
        if items and rng.random() < 0.01:  # a retry of a recent event: same key, same body
            items.append(dict(items[rng.randrange(max(0, len(items) - 2000), len(items))]))
            continue
        item = {"type": rng.choices(names, weights)[0],
                "occurred_at": (start + timedelta(seconds=offset)).isoformat(),
                "idempotency_key": f"{prefix}-{i}", "properties": {"url": f"/p/{rng.randint(1, 8)}"}}
        if rng.random() < 0.05:
            item["email"] = emails[index]
        else:
            item["lead"] = lead_ids[index]
        if rng.random() < 0.001:  # an unknown email: the flow creates a subscriber
            item.pop("lead", None)
            item["email"] = f"new{i}@newco{i}.io"
        items.append(item)
    return items


def run(args, database: str) -> None:
    from django.db import transaction
    from rest_framework.test import APIClient

    from leads.models import EngagementEvent, Lead
    from revops.flows.events import events_ingest_bulk
    from scoring import services
    from scoring.models import ScoreChange

    rng = random.Random(args.seed)
    user, lead_ids, emails = setup_data(args, rng)
    now = datetime.now(UTC)
    items = make_items(rng, lead_ids, emails, args.events, now - timedelta(days=60), now - timedelta(minutes=10),
                       "bulk")

    # 2 first (the table is empty for both): the same rows raw-inserted, then deleted again.
    raw = [EngagementEvent(lead_id=it.get("lead") or lead_ids[0], type=it["type"],
                           occurred_at=datetime.fromisoformat(it["occurred_at"]),
                           idempotency_key="raw-" + it["idempotency_key"] + f"-{i}", properties=it["properties"])
           for i, it in enumerate(items)]
    t0 = time.perf_counter()
    for i in range(0, len(raw), BATCH):
        with transaction.atomic():
            EngagementEvent.objects.bulk_create(raw[i : i + BATCH])
    raw_seconds = time.perf_counter() - t0
    EngagementEvent.objects.all().delete()
    raw_rate = len(raw) / raw_seconds
    del raw
    # The 200k request bodies are the bench's, not the server's: keep the collector from rescanning them.
    gc.collect()
    gc.freeze()

    # 1. the bulk path
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time) if os.environ.get("BENCH_CPU") else cProfile.Profile()
        profiler.enable()
    stored = duplicates = errors = 0
    t0 = time.perf_counter()
    for i in range(0, len(items), BATCH):
        result = events_ingest_bulk(items=items[i : i + BATCH], actor=user)
        stored += result["stored"]
        duplicates += result["duplicates"]
        errors += len(result["errors"])
    bulk_seconds = time.perf_counter() - t0
    if profiler:
        profiler.disable()
    bulk_rate = len(items) / bulk_seconds
    mqls = Lead.objects.filter(mql_at__isnull=False).count()
    changes = ScoreChange.objects.count()

    # 3. single events through the API view
    client = APIClient()
    client.force_authenticate(user)
    names, weights = list(TYPES), list(TYPES.values())
    latencies, handoffs = [], []
    for i in range(args.single + 20):
        body = {"lead": rng.choice(lead_ids), "type": rng.choices(names, weights)[0],
                "occurred_at": datetime.now(UTC).isoformat(), "idempotency_key": f"single-{i}",
                "properties": {"url": f"/p/{rng.randint(1, 8)}"}}
        t0 = time.perf_counter()
        response = client.post("/api/v1/events/", body, format="json")
        elapsed = (time.perf_counter() - t0) * 1000
        assert response.status_code == 201, response.content
        if i >= 20:  # the first requests warm caches (URL resolver, schema of the view)
            latencies.append(elapsed)
            if response.json()["lifecycle_stage"] == "mql" and response.json()["owner"] is not None:
                handoffs.append(elapsed)
    quiet = sorted(set(latencies) - set(handoffs))
    latencies.sort()
    p50 = statistics.median(latencies) if latencies else 0.0
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0

    print(f"ingest+score {database}: {bulk_rate:.0f} events/s", flush=True)
    print(f"  {len(items):,} events over {len(lead_ids):,} leads in {len(items) // BATCH + bool(len(items) % BATCH)} "
          f"bulk requests of {BATCH}: {bulk_seconds:.1f} s; stored {stored:,}, duplicates {duplicates:,}, "
          f"errors {errors}; {changes:,} score changes; {mqls:,} MQLs handed off")
    print(f"  raw insert {database}: {raw_rate:.0f} events/s ({raw_seconds:.1f} s); "
          f"ingest+score / raw insert = {bulk_rate / raw_rate:.2f} (raw is {raw_rate / bulk_rate:.1f}x faster)")
    print(f"  single event {database}: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(latencies)} API requests",
          flush=True)
    if quiet and handoffs:
        print(f"    without the {len(handoffs)} that became MQL and were routed: "
              f"p50 {statistics.median(quiet):.1f} ms, p99 {quiet[min(len(quiet) - 1, int(len(quiet) * 0.99))]:.1f} ms;"
              f" those {len(handoffs)}: p50 {statistics.median(handoffs):.1f} ms", flush=True)

    # 4. set-based rescoring of every lead (the path of a model activation and of the daily decay job)
    t0 = time.perf_counter()
    _, changed = services.leads_rescore(lead_ids=sorted(lead_ids), trigger="manual")
    seconds = time.perf_counter() - t0
    print(f"  rescore {database}: {len(lead_ids) / seconds:.0f} leads/s ({len(lead_ids):,} leads in {seconds:.1f} s, "
          f"{changed:,} changed)", flush=True)
    if profiler:
        import pstats

        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    sys.exit(main())
