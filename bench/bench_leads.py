"""Lead intake and listing: upserts per second and list latency at 1k vs 10k leads (a ratio near 1 = O(page))."""

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.test_settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")

import warnings  # noqa: E402

import django  # noqa: E402

warnings.filterwarnings("ignore", message="No directory at")

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from leads.models import Lead  # noqa: E402
from tests import factories  # noqa: E402


def main():
    call_command("migrate", verbosity=0)
    admin = factories.UserFactory(username="bench-admin", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(admin)

    n = 300
    start = time.perf_counter()
    for i in range(n):
        client.post("/api/v1/leads/", {"email": f"b{i}@bench{i % 50}.io", "first_name": "B",
                                       "company": {"name": f"Bench {i % 50}"}}, format="json")
    elapsed = time.perf_counter() - start
    print(f"lead upsert (API, new leads):  {n / elapsed:8.1f} req/s   ({elapsed / n * 1000:.2f} ms each)")

    def list_ms(repeat=20):
        queries = []
        with connection.execute_wrapper(lambda execute, sql, *a: queries.append(sql) or execute(sql, *a)):
            client.get("/api/v1/leads/")
        start = time.perf_counter()
        for _ in range(repeat):
            client.get("/api/v1/leads/")
        return (time.perf_counter() - start) / repeat * 1000, len(queries)

    Lead.objects.bulk_create([Lead(email=f"x{i}@bulk.io") for i in range(1000 - n)])
    small, small_q = list_ms()
    Lead.objects.bulk_create([Lead(email=f"y{i}@bulk.io") for i in range(9000)])
    large, large_q = list_ms()
    print(f"lead list page (1k leads):     {small:8.2f} ms, {small_q} queries")
    print(f"lead list page (10k leads):    {large:8.2f} ms, {large_q} queries")
    print(f"ratio 10k / 1k:                {large / small:8.2f}x (queries {large_q} vs {small_q})")


if __name__ == "__main__":
    main()
