import pytest

from leads.models import Account, Lead
from tests import factories
from tests.conftest import as_user

pytestmark = pytest.mark.django_db


def test_token_then_create_lead_normalises_email_and_starts_at_lead(api, admin_user):
    token = api.post("/api/v1/auth/token/", {"username": "admin", "password": "pass-word-123"}, format="json")
    assert token.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    response = api.post("/api/v1/leads/", {
        "email": "  Ada.Lovelace@Example.COM ", "first_name": "Ada", "last_name": "Lovelace",
        "title": "VP Engineering", "source": "webinar",
        "company": {"name": "Analytical Engines", "domain": "https://www.Example.com/", "employees": 250,
                    "industry": "software", "country": "gb"},
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "ada.lovelace@example.com"
    assert body["lifecycle_stage"] == "lead"
    assert body["title_level"] == "vp"
    assert body["owner"] is None
    account = Account.objects.get(pk=body["account"])
    assert (account.domain, account.country, account.employees) == ("example.com", "GB", 250)


def test_upsert_matches_and_merges_without_erasing(admin_api):
    first = admin_api.post("/api/v1/leads/", {"email": "bob@acme.io", "phone": "+1 555"}, format="json")
    assert first.status_code == 201
    assert first.json()["lifecycle_stage"] == "subscriber"
    again = admin_api.post("/api/v1/leads/", {"email": "BOB@acme.io", "first_name": "Bob", "phone": "",
                                              "company": {"name": "Acme"}}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    lead = Lead.objects.get()
    assert (lead.first_name, lead.phone, lead.lifecycle_stage) == ("Bob", "+1 555", "lead")
    assert lead.account.domain == "acme.io"


@pytest.mark.parametrize("payload, field", [
    ({}, "email"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b.co", "company": {"employees": -4}}, "company"),
    ({"email": "a@b.co", "company": {"country": "USA"}}, "company"),
    ({"email": "a@b.co", "first_name": "x" * 101}, "first_name"),
])
def test_bad_input_is_400_naming_the_field(admin_api, payload, field):
    response = admin_api.post("/api/v1/leads/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Lead.objects.count() == 0


def test_anonymous_gets_401_with_www_authenticate(api):
    response = api.get("/api/v1/leads/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_unknown_lead_404_and_non_numeric_id_404(admin_api):
    assert admin_api.get("/api/v1/leads/999/").status_code == 404
    assert admin_api.get("/api/v1/leads/abc/").status_code == 404


def test_list_filters_and_pagination_shape(admin_api):
    factories.LeadFactory(source="webinar")
    factories.LeadFactory(source="ads", lifecycle_stage=Lead.Stage.MQL)
    body = admin_api.get("/api/v1/leads/?source=webinar").json()
    assert set(body) >= {"results", "next"}
    assert [r["source"] for r in body["results"]] == ["webinar"]
    assert [r["lifecycle_stage"] for r in admin_api.get("/api/v1/leads/?lifecycle_stage=mql").json()["results"]] == [
        "mql"]
    assert admin_api.get("/api/v1/leads/?lifecycle_stage=bogus").status_code == 400


def test_list_runs_a_fixed_number_of_queries(django_assert_num_queries):
    rep = factories.RepFactory()
    client = as_user(rep.user)
    factories.LeadFactory.create_batch(3, owner=rep.user)
    with django_assert_num_queries(2):  # the count and the page
        assert len(client.get("/api/v1/leads/").json()["results"]) == 3
    factories.LeadFactory.create_batch(40, owner=rep.user)
    with django_assert_num_queries(2):
        assert len(client.get("/api/v1/leads/").json()["results"]) == 43


def test_history_lists_stage_changes_with_actor_and_reason(admin_api, admin_user):
    created = admin_api.post("/api/v1/leads/", {"email": "h@hist.io", "first_name": "H",
                                                "company": {"name": "Hist"}}, format="json").json()
    history = admin_api.get(f"/api/v1/leads/{created['id']}/history/").json()
    stages = [(h["old"], h["new"], h["by"]) for h in history if h["field"] == "lifecycle_stage"]
    assert stages == [(None, "subscriber", "admin"), ("subscriber", "lead", "admin")]
    assert history[-1]["reason"] == "name, email and company known"
