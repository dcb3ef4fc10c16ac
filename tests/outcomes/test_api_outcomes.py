"""API.md accept / reject / convert, including their 400s, 403s and 409s."""

import pytest

from leads.models import Lead
from pipeline.models import Deal
from tests import factories
from tests.conftest import as_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep():
    return factories.RepFactory()


def mql(owner, **extra):
    return factories.LeadFactory(lifecycle_stage=Lead.Stage.MQL, owner=owner, mql_criteria_met=True,
                                 source="webinar", **extra)


def test_accept_with_two_of_bant_makes_sql(rep):
    lead = mql(rep.user)
    response = as_user(rep.user).post(f"/api/v1/leads/{lead.pk}/accept/",
                                      {"budget": True, "need": True}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["lifecycle_stage"] == "sql"
    assert body["sql_at"] is not None
    lead.refresh_from_db()
    assert (lead.budget, lead.authority, lead.need, lead.timeline) == (True, False, True, False)


def test_accept_with_one_of_bant_is_400_naming_the_guard(rep):
    lead = mql(rep.user)
    response = as_user(rep.user).post(f"/api/v1/leads/{lead.pk}/accept/", {"budget": True}, format="json")
    assert response.status_code == 400
    assert "bant" in response.json()
    assert Lead.objects.get(pk=lead.pk).lifecycle_stage == "mql"


def test_accept_without_owner_is_400_naming_owner(admin_api):
    lead = mql(None)
    response = admin_api.post(f"/api/v1/leads/{lead.pk}/accept/", {"budget": True, "need": True}, format="json")
    assert response.status_code == 400
    assert "owner" in response.json()


def test_accept_from_wrong_stage_is_409_and_bad_boolean_is_400(rep):
    lead = factories.LeadFactory(lifecycle_stage=Lead.Stage.LEAD, owner=rep.user)
    client = as_user(rep.user)
    assert client.post(f"/api/v1/leads/{lead.pk}/accept/", {"budget": True, "need": True},
                       format="json").status_code == 409
    bad = client.post(f"/api/v1/leads/{lead.pk}/accept/", {"budget": "perhaps"}, format="json")
    assert bad.status_code == 400 and "budget" in bad.json()


def test_other_rep_gets_403_and_unknown_lead_404(rep):
    lead = mql(rep.user)
    other = factories.RepFactory()
    assert as_user(other.user).post(f"/api/v1/leads/{lead.pk}/accept/", {"budget": True, "need": True},
                                    format="json").status_code == 403
    assert as_user(rep.user).post("/api/v1/leads/99999/reject/", {"reason_code": "FIT-01"},
                                  format="json").status_code == 404


@pytest.mark.parametrize("code, stage", [
    ("FIT-01", "recycled"), ("FIT-02", "archived"), ("FIT-03", "recycled"), ("ENG-01", "recycled"),
    ("ENG-02", "recycled"), ("QUAL-01", "recycled"), ("QUAL-02", "recycled"), ("QUAL-03", "archived"),
    ("eng-01", "recycled"),
])
def test_reject_with_each_code(rep, code, stage):
    lead = mql(rep.user)
    response = as_user(rep.user).post(f"/api/v1/leads/{lead.pk}/reject/", {"reason_code": code}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["lifecycle_stage"] == stage


@pytest.mark.parametrize("payload", [{}, {"reason_code": ""}, {"reason_code": "NOPE-99"}])
def test_reject_without_a_known_code_is_400(rep, payload):
    lead = mql(rep.user)
    response = as_user(rep.user).post(f"/api/v1/leads/{lead.pk}/reject/", payload, format="json")
    assert response.status_code == 400
    assert "reason_code" in response.json()
    assert Lead.objects.get(pk=lead.pk).lifecycle_stage == "mql"


def test_convert_creates_the_deal_in_one_transaction(rep):
    lead = factories.LeadFactory(lifecycle_stage=Lead.Stage.SQL, owner=rep.user, source="webinar", fit_score=30,
                                 score=30)
    response = as_user(rep.user).post(f"/api/v1/leads/{lead.pk}/convert/",
                                      {"amount": "24000.00", "close_date": "2027-01-31", "name": "Pilot"},
                                      format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    deal = Deal.objects.get(pk=body["deal"])
    assert (body["lifecycle_stage"], deal.stage, deal.lead_id, str(deal.amount), str(deal.close_date),
            deal.owner_id) == ("opportunity", "qualified", lead.pk, "24000.00", "2027-01-31", rep.pk)


def test_convert_bad_input_and_wrong_stage_write_nothing(rep):
    lead = factories.LeadFactory(lifecycle_stage=Lead.Stage.MQL, owner=rep.user, source="webinar")
    client = as_user(rep.user)
    bad = client.post(f"/api/v1/leads/{lead.pk}/convert/", {"amount": "-1", "close_date": "soon"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"amount", "close_date"}
    assert client.post(f"/api/v1/leads/{lead.pk}/convert/", {"amount": "10", "close_date": "2027-01-01"},
                       format="json").status_code == 409
    assert Deal.objects.count() == 0
