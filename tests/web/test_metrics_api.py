"""Metrics API (API.md): exact values on a known data set, date validation, permissions, scope."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from leads.models import Lead
from tests import factories

UTC = dt.timezone.utc


def at(day, hour=12, minute=0, second=0, month=3):
    return dt.datetime(2024, month, day, hour, minute, second, tzinfo=UTC)


def lead(created, owner=None, **stamps):
    obj = factories.LeadFactory(owner=owner, **{k: v for k, v in stamps.items() if k == "lifecycle_stage"})
    fields = {k: v for k, v in stamps.items() if k != "lifecycle_stage"}
    Lead.objects.filter(pk=obj.pk).update(created_at=created, **fields)
    return obj


@pytest.fixture
def dataset(rep, other_rep):
    """March 2024: 10 leads created in range (2 outside), stage firsts at the range's edges."""
    # created in range: 10 (first at 00:00:00 on the start day, last at 23:59:59 on the end day)
    lead(at(1, 0, 0, 0), owner=rep, first_mql_at=at(2), first_sql_at=at(3), first_opportunity_at=at(4),
         first_customer_at=at(31, 23, 59, 59), lifecycle_stage="customer")
    lead(at(5), owner=rep, first_mql_at=at(6), first_sql_at=at(7), lifecycle_stage="sql")
    lead(at(8), owner=rep, first_mql_at=at(9), lifecycle_stage="mql")
    # reached MQL in range, then was rejected: still counts where it is now
    lead(at(10), owner=rep, first_mql_at=at(11), lifecycle_stage="recycled")
    for day in range(12, 17):
        lead(at(day), owner=other_rep)
    lead(at(31, 23, 59, 59), owner=other_rep)
    # created before the range, first MQL in range (counts as an MQL, not as a lead)
    lead(at(20, month=2), owner=other_rep, first_mql_at=at(15), lifecycle_stage="mql")
    # created after the range; first MQL exactly at the next midnight (excluded)
    lead(at(1, 0, 0, 0, month=4), owner=other_rep, first_mql_at=at(1, 0, 0, 0, month=4), lifecycle_stage="mql")
    # MQL before the range (excluded), SQL in range
    lead(at(1, month=2), owner=rep, first_mql_at=at(2, month=2), first_sql_at=at(20), lifecycle_stage="sql")


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_funnel_exact_values(admin, dataset):
    response = client_for(admin).get("/api/v1/metrics/funnel/", {"start": "2024-03-01", "end": "2024-03-31"})
    assert response.status_code == 200
    assert response.json() == {
        "leads": 10, "mqls": 5, "sqls": 3, "opportunities": 1, "won": 1,
        "lead_to_mql": 0.5, "mql_to_sql": 0.6, "sql_to_opportunity": 0.3333, "win_rate": 1.0,
    }


def test_funnel_single_day_and_empty_range(admin, dataset):
    one_day = client_for(admin).get("/api/v1/metrics/funnel/", {"start": "2024-03-31", "end": "2024-03-31"}).json()
    assert one_day["leads"] == 1 and one_day["won"] == 1 and one_day["mqls"] == 0
    assert one_day["lead_to_mql"] == 0.0 and one_day["mql_to_sql"] is None
    empty = client_for(admin).get("/api/v1/metrics/funnel/", {"start": "2020-01-01", "end": "2020-01-31"}).json()
    assert empty == {"leads": 0, "mqls": 0, "sqls": 0, "opportunities": 0, "won": 0, "lead_to_mql": None,
                     "mql_to_sql": None, "sql_to_opportunity": None, "win_rate": None}


def test_funnel_manager_sees_team_scope(manager, dataset):
    data = client_for(manager).get("/api/v1/metrics/funnel/", {"start": "2024-03-01", "end": "2024-03-31"}).json()
    # The manager's team is the rep's: four leads created in March, plus the February lead's SQL.
    assert data["leads"] == 4 and data["mqls"] == 4 and data["sqls"] == 3 and data["won"] == 1


@pytest.mark.parametrize("params, field", [
    ({"start": "2024-13-01", "end": "2024-03-31"}, "start"),
    ({"start": "2024-03-01", "end": "31/03/2024"}, "end"),
    ({"start": "yesterday"}, "start"),
    ({"start": "2024-04-01", "end": "2024-03-01"}, "start"),
])
def test_funnel_bad_dates_400_naming_the_field(admin, params, field):
    response = client_for(admin).get("/api/v1/metrics/funnel/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_funnel_defaults_to_last_30_days(admin, db):
    factories.LeadFactory()
    assert client_for(admin).get("/api/v1/metrics/funnel/").json()["leads"] == 1


def test_metrics_permissions(rep, db):
    assert APIClient().get("/api/v1/metrics/funnel/").status_code == 401
    assert client_for(rep).get("/api/v1/metrics/funnel/").status_code == 403


@pytest.mark.parametrize("name", ["speed-to-lead", "marketing", "sales", "executive"])
def test_other_metrics_endpoints(admin, dataset, name):
    response = client_for(admin).get(f"/api/v1/metrics/{name}/", {"start": "2024-03-01", "end": "2024-03-31"})
    assert response.status_code == 200
    if name == "speed-to-lead":
        assert {"count", "mean_minutes", "median_minutes", "within_sla_share"} <= set(response.json())


def test_marketing_metrics_values(admin, dataset):
    from leads.models import ReasonCode

    recycled = Lead.objects.get(lifecycle_stage="recycled")
    Lead.objects.filter(pk=recycled.pk).update(reason_code=ReasonCode.objects.get(code="ENG-01"),
                                               recycled_at=at(12), source="webinar")
    Lead.objects.filter(lifecycle_stage="mql", first_mql_at=at(9)).update(
        source="webinar", campaign="spring", mql_at=at(9), is_recycled=True, sql_at=None)
    data = client_for(admin).get("/api/v1/metrics/marketing/", {"start": "2024-03-01", "end": "2024-03-31"}).json()
    assert data["rejection_reasons"] == [{"code": "ENG-01", "reason": "No response after 3 attempts", "leads": 1}]
    assert {"source": "webinar", "mqls": 2} in data["mql_by_source"]
    assert data["recycled"]["recycled_mqls"] == 1 and data["recycled"]["recycled_sqls"] == 0


def test_executive_quota_validation(admin, db):
    bad = client_for(admin).get("/api/v1/metrics/executive/", {"quota": "lots"})
    assert bad.status_code == 400 and "quota" in bad.json()
    ok = client_for(admin).get("/api/v1/metrics/executive/", {"quota": "100000"})
    assert ok.status_code == 200 and "coverage" in ok.json()["pipeline"]
