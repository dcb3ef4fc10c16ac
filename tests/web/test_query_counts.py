"""The queue and every dashboard run the same number of queries with 10 leads and with 10,000."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Account, EngagementEvent, Lead, ReasonCode
from pipeline.models import Deal
from routing.models import Assignment, LeadSla
from tests.web.conftest import login

PAGES = ["/app/", "/app/dashboards/marketing/", "/app/dashboards/sales/", "/app/dashboards/executive/"]
SOURCES = ["webinar", "paid_ads", "organic", "referral"]


def add_leads(count, *, start, owner, team, account):
    """``count`` leads across every stage, with SLA clocks, assignments, events and deals (bulk)."""
    now = timezone.now()
    code = ReasonCode.objects.get(code="QUAL-01")
    stages = [Lead.Stage.MQL, Lead.Stage.MQL, Lead.Stage.SQL, Lead.Stage.OPPORTUNITY, Lead.Stage.RECYCLED]
    rows = []
    for i in range(count):
        stage = stages[i % len(stages)]
        at = now - dt.timedelta(hours=1 + i % 48)
        lead = Lead(email=f"bulk{start + i}@example.com", first_name="Bulk", last_name=str(start + i),
                    account=account, owner=owner if i % 3 else None, lifecycle_stage=stage,
                    source=SOURCES[i % 4], campaign=f"c{i % 3}", mql_at=at, first_mql_at=at,
                    is_recycled=stage == Lead.Stage.RECYCLED)
        if stage in (Lead.Stage.SQL, Lead.Stage.OPPORTUNITY):
            lead.sql_at = lead.first_sql_at = at + dt.timedelta(minutes=30)
        if stage == Lead.Stage.OPPORTUNITY:
            lead.opportunity_at = lead.first_opportunity_at = at + dt.timedelta(minutes=40)
        if stage == Lead.Stage.RECYCLED:
            lead.reason_code, lead.recycled_at = code, at
        rows.append(lead)
    leads = Lead.objects.bulk_create(rows, batch_size=2000)
    if connection.vendor == "sqlite" or leads[0].pk is None:
        leads = list(Lead.objects.filter(email__startswith="bulk").order_by("id")[start:start + count])
    Assignment.objects.bulk_create([
        Assignment(lead=lead, rep=owner.rep if lead.owner_id else None, team=team, rule="round_robin")
        for lead in leads], batch_size=2000)
    LeadSla.objects.bulk_create([
        LeadSla(lead=lead, policy_name="default", team=team, owner=lead.owner, started_at=lead.mql_at,
                clock_start=lead.mql_at, first_contact_due=lead.mql_at + dt.timedelta(hours=4),
                first_contact_at=lead.mql_at + dt.timedelta(minutes=7) if lead.pk % 2 else None,
                response_seconds=420 if lead.pk % 2 else None)
        for lead in leads], batch_size=2000)
    EngagementEvent.objects.bulk_create([
        EngagementEvent(lead=lead, type="pricing_page_view", occurred_at=lead.mql_at, idempotency_key=f"e{lead.pk}")
        for lead in leads], batch_size=2000)
    Deal.objects.bulk_create([
        Deal(name=f"Deal {lead.pk}", lead=lead, account=account, owner=owner, amount=Decimal(1000 + lead.pk),
             stage=["qualified", "discovery", "proposal", "closed_won", "closed_lost"][lead.pk % 5],
             stage_entered_at=now - dt.timedelta(days=lead.pk % 20), stale=lead.pk % 7 == 0,
             closed_at=now if lead.pk % 5 >= 3 else None, source=lead.source, fit_score=10)
        for lead in leads if lead.lifecycle_stage == Lead.Stage.OPPORTUNITY], batch_size=2000)


@pytest.mark.parametrize("url", PAGES)
def test_same_number_of_queries_for_10_and_10000_leads(django_assert_num_queries, manager, rep, team, url):
    account = Account.objects.create(name="Bulk Co", domain="bulk.example")
    client = login(manager)
    add_leads(10, start=0, owner=rep, team=team, account=account)
    client.get(url)  # warm caches (content types, sessions) so both runs are comparable
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    add_leads(9990, start=10, owner=rep, team=team, account=account)
    assert Lead.objects.count() == 10000
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200


def test_queue_query_count_for_a_rep(django_assert_num_queries, rep, team):
    account = Account.objects.create(name="Bulk Co", domain="bulk.example")
    client = login(rep)
    add_leads(10, start=0, owner=rep, team=team, account=account)
    client.get("/app/")
    with CaptureQueriesContext(connection) as small:
        client.get("/app/")
    add_leads(9990, start=10, owner=rep, team=team, account=account)
    with django_assert_num_queries(len(small.captured_queries)):
        body = client.get("/app/").content.decode()
    assert "Page 1 of" in body
