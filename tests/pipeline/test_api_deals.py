import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from leads.models import NurtureEnrollment
from pipeline.models import REQUIRED_FIELDS, Approval, CloseDateChange, Deal, DealStageChange, Task
from revops.models import Notification
from tests import factories
from tests.conftest import as_user
from tests.pipeline.factories import STAGE_DATA, DealFactory, fill

pytestmark = pytest.mark.django_db

ORDER = ["qualified", "discovery", "demo", "proposal", "negotiation"]
# The factory's deals already have a close date: changing it inside a move would need a reason.
NEGOTIATION = {k: v for k, v in STAGE_DATA["negotiation"].items() if k != "close_date"}


def move(client, deal, to, **data):
    return client.post(f"/api/v1/deals/{deal.pk}/transition/", {"to": to, **data}, format="json")


# ---- create / read -------------------------------------------------------------------------------


def test_create_starts_qualified_with_source_and_fit_from_the_lead(ae):
    lead = factories.LeadFactory(lifecycle_stage="opportunity", source="webinar", fit_score=35,
                                 engagement_score=0, score=35)
    response = as_user(ae.user).post("/api/v1/deals/", {
        "name": "Acme expansion", "account": lead.account_id, "lead": lead.pk, "owner": ae.pk,
        "amount": "12000.00", "close_date": "2030-01-31"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["stage"], body["source"], body["fit_score"], body["owner"]) == ("qualified", "webinar", 35, ae.pk)
    assert body["flags"] == [] and body["close_date_pushes"] == 0
    assert DealStageChange.objects.get(deal_id=body["id"]).stage == "qualified"


def test_create_without_contact_and_company_names_the_missing_fields(ae):
    response = as_user(ae.user).post("/api/v1/deals/", {"name": "x", "amount": "1"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["missing_fields"]) >= {"contact", "company", "source", "fit_score"}


def test_create_rejects_unknown_account(ae):
    response = as_user(ae.user).post("/api/v1/deals/", {"name": "x", "account": 999999}, format="json")
    assert response.status_code == 400 and "account" in response.json()


def test_read_scope_own_team_admin_403_404(ae, manager, admin_api):
    deal = DealFactory(owner=ae.user)
    stranger = factories.RepFactory()
    assert as_user(ae.user).get(f"/api/v1/deals/{deal.pk}/").status_code == 200
    assert as_user(manager.user).get(f"/api/v1/deals/{deal.pk}/").status_code == 200
    assert admin_api.get(f"/api/v1/deals/{deal.pk}/").status_code == 200
    assert as_user(stranger.user).get(f"/api/v1/deals/{deal.pk}/").status_code == 403
    assert as_user(ae.user).get("/api/v1/deals/999999/").status_code == 404
    listed = as_user(stranger.user).get("/api/v1/deals/").json()
    assert listed["results"] == [] and "next" in listed
    assert [d["id"] for d in as_user(ae.user).get("/api/v1/deals/").json()["results"]] == [deal.pk]


def test_stage_is_read_only_in_patch(ae):
    deal = DealFactory(owner=ae.user)
    response = as_user(ae.user).patch(f"/api/v1/deals/{deal.pk}/", {"stage": "closed_won"}, format="json")
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage == "qualified"


# ---- required fields per stage --------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["discovery", "demo", "proposal", "negotiation", "closed_won", "closed_lost"])
def test_each_stage_requires_its_fields(ae, stage):
    deal = DealFactory(owner=ae.user, close_date=None)
    previous = ORDER[ORDER.index(stage) - 1] if stage in ORDER else "negotiation"
    fill(deal, *[s for s in ORDER[1:ORDER.index(previous) + 1]])
    if previous != "qualified":
        Deal.objects.filter(pk=deal.pk).update(stage=previous)
    client = as_user(ae.user)
    response = move(client, deal, stage)
    assert response.status_code == 400, response.json()
    expected = [f for f in REQUIRED_FIELDS[stage] if not (f == "close_date" and deal.close_date)]
    assert response.json() == {"missing_fields": expected}
    assert Deal.objects.get(pk=deal.pk).stage == previous
    response = move(client, deal, stage, **STAGE_DATA[stage])
    assert response.status_code == 200, response.json()
    assert response.json()["stage"] == stage
    assert "stage_skipped" not in response.json()["flags"]


def test_partial_data_names_only_the_still_empty_fields(ae):
    deal = DealFactory(owner=ae.user)
    response = move(as_user(ae.user), deal, "discovery", pain_points="slow")
    assert response.json() == {"missing_fields": ["current_solution", "timeline"]}
    assert Deal.objects.get(pk=deal.pk).pain_points == ""  # nothing written on a refused move


def test_lost_to_a_competitor_needs_its_name(ae):
    deal = DealFactory(owner=ae.user)
    response = move(as_user(ae.user), deal, "closed_lost", loss_reason="Lost to competitor")
    assert response.json() == {"missing_fields": ["competitor"]}


def test_unknown_stage_is_400_and_closed_deals_are_absorbing(ae):
    deal = DealFactory(owner=ae.user, stage="closed_won")
    client = as_user(ae.user)
    assert move(client, deal, "won").status_code == 400
    assert move(client, deal, "discovery", **STAGE_DATA["discovery"]).status_code == 409


# ---- skips and backward moves ---------------------------------------------------------------------


def test_skip_is_allowed_flagged_and_alerted_to_the_manager(ae, manager, django_capture_on_commit_callbacks):
    manager.user.email = "boss@example.com"
    manager.user.save()
    deal = DealFactory(owner=ae.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = move(as_user(ae.user), deal, "proposal", **STAGE_DATA["proposal"])
    assert response.status_code == 200, response.json()
    assert response.json()["flags"] == ["stage_skipped"]
    change = DealStageChange.objects.get(deal=deal, stage="proposal")
    assert change.skipped == ["discovery", "demo"]
    alert = Notification.objects.get(event="deal.stage_skipped", channel="email")
    assert alert.recipient == "boss@example.com"
    assert Notification.objects.filter(event="deal.stage_changed", channel="webhook").exists()


def test_won_straight_from_discovery_is_a_skip(ae):
    deal = fill(DealFactory(owner=ae.user), "discovery")
    Deal.objects.filter(pk=deal.pk).update(stage="discovery")
    response = move(as_user(ae.user), deal, "closed_won", **STAGE_DATA["closed_won"])
    assert response.status_code == 200
    assert "stage_skipped" in response.json()["flags"]
    assert DealStageChange.objects.get(deal=deal, stage="closed_won").skipped == ["demo", "proposal", "negotiation"]


def test_backward_needs_a_reason_and_is_recorded(ae):
    deal = fill(DealFactory(owner=ae.user), "discovery", "demo")
    client = as_user(ae.user)
    assert move(client, deal, "discovery").status_code == 200
    assert move(client, deal, "demo").status_code == 200
    refused = move(client, deal, "discovery")
    assert refused.status_code == 400 and "reason" in refused.json()
    ok = move(client, deal, "discovery", reason="champion left; re-discovering")
    assert ok.status_code == 200 and ok.json()["stage"] == "discovery"
    change = DealStageChange.objects.filter(deal=deal).last()
    assert (change.backward, change.reason, change.from_stage) == (True, "champion left; re-discovering", "demo")
    history = client.get(f"/api/v1/deals/{deal.pk}/history/").json()
    assert [h["stage"] for h in history] == ["qualified", "discovery", "demo", "discovery"] or \
        [h["stage"] for h in history] == ["discovery", "demo", "discovery"]


# ---- close-date discipline -------------------------------------------------------------------------


def test_close_date_change_needs_reason_and_two_pushes_mean_forecast_review(ae):
    deal = DealFactory(owner=ae.user, close_date=dt.date(2030, 3, 31))
    client = as_user(ae.user)
    url = f"/api/v1/deals/{deal.pk}/"
    refused = client.patch(url, {"close_date": "2030-04-30"}, format="json")
    assert refused.status_code == 400 and "close_date_reason" in refused.json()
    first = client.patch(url, {"close_date": "2030-04-30", "close_date_reason": "legal review"}, format="json")
    assert first.status_code == 200
    assert (first.json()["close_date_pushes"], first.json()["flags"]) == (1, [])
    pulled = client.patch(url, {"close_date": "2030-04-15", "close_date_reason": "signed early"}, format="json")
    assert pulled.json()["close_date_pushes"] == 1  # pulling in is not a push
    second = client.patch(url, {"close_date": "2030-06-30", "close_date_reason": "budget freeze"}, format="json")
    assert second.json()["close_date_pushes"] == 2
    assert second.json()["flags"] == ["forecast_review"]
    assert list(CloseDateChange.objects.filter(deal=deal).values_list("reason", flat=True)) == [
        "legal review", "signed early", "budget freeze"]
    same = client.patch(url, {"close_date": "2030-06-30", "name": "renamed"}, format="json")
    assert same.status_code == 200 and same.json()["close_date_pushes"] == 2


def test_first_close_date_needs_no_reason(ae):
    deal = DealFactory(owner=ae.user, close_date=None)
    response = as_user(ae.user).patch(f"/api/v1/deals/{deal.pk}/", {"close_date": "2030-01-01"}, format="json")
    assert response.status_code == 200 and response.json()["close_date_pushes"] == 0


# ---- deal desk -------------------------------------------------------------------------------------


def _to_proposal(ae, **terms):
    deal = fill(DealFactory(owner=ae.user, **{"amount": Decimal("20000"), **terms}), "discovery", "demo")
    Deal.objects.filter(pk=deal.pk).update(stage="demo")
    response = move(as_user(ae.user), deal, "proposal", **STAGE_DATA["proposal"])
    assert response.status_code == 200, response.json()
    return Deal.objects.get(pk=deal.pk), response.json()


@pytest.mark.parametrize(("terms", "tiers"), [
    ({}, []),
    ({"discount_percent": Decimal("5")}, []),
    ({"discount_percent": Decimal("10")}, ["manager"]),
    ({"discount_percent": Decimal("19.99")}, ["manager"]),
    ({"discount_percent": Decimal("20")}, ["vp"]),
    ({"discount_percent": Decimal("39")}, ["vp"]),
    ({"discount_percent": Decimal("40")}, ["deal_desk"]),
    ({"custom_terms": "net-90 payment"}, ["deal_desk"]),
    ({"term_months": 36}, ["finance", "legal"]),
    ({"amount": Decimal("30000")}, ["deal_desk"]),
])
def test_approval_tiers(ae, terms, tiers):
    deal, body = _to_proposal(ae, **terms)
    assert sorted(Approval.objects.filter(deal=deal).values_list("tier", flat=True)) == sorted(tiers)
    assert ("needs_approval" in body["flags"]) == bool(tiers)


def test_needs_approval_blocks_advance_until_approved(ae, manager):
    deal, _ = _to_proposal(ae, discount_percent=Decimal("15"))
    client = as_user(ae.user)
    blocked = move(client, deal, "negotiation", **NEGOTIATION)
    assert blocked.status_code == 400 and "needs_approval" in blocked.json()
    assert Deal.objects.get(pk=deal.pk).stage == "proposal"
    assert client.post(f"/api/v1/deals/{deal.pk}/approve/", {"tier": "manager"}, format="json").status_code == 403
    approved = as_user(manager.user).post(f"/api/v1/deals/{deal.pk}/approve/", {"tier": "manager"}, format="json")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    again = as_user(manager.user).post(f"/api/v1/deals/{deal.pk}/approve/",
                                       {"approval": approved.json()["id"]}, format="json")
    assert again.status_code == 409
    response = move(client, deal, "negotiation", **NEGOTIATION)
    assert response.status_code == 200, response.json()
    assert "needs_approval" not in response.json()["flags"]


def test_raising_the_discount_after_approval_needs_a_new_approval(ae, manager):
    deal, _ = _to_proposal(ae, discount_percent=Decimal("15"))
    as_user(manager.user).post(f"/api/v1/deals/{deal.pk}/approve/", {"tier": "manager"}, format="json")
    body = as_user(ae.user).patch(f"/api/v1/deals/{deal.pk}/", {"discount_percent": "25"}, format="json").json()
    assert "needs_approval" in body["flags"]
    assert Approval.objects.get(deal=deal, state="pending").tier == "vp"


@pytest.mark.parametrize(("tier", "group", "terms"), [
    ("vp", "VP Sales", {"discount_percent": Decimal("25")}),
    ("deal_desk", "Deal Desk", {"discount_percent": Decimal("45")}),
    ("finance", "Finance", {"term_months": 24}),
    ("legal", "Legal", {"term_months": 24}),
])
def test_only_the_tier_role_decides(ae, manager, tier, group, terms):
    deal, _ = _to_proposal(ae, **terms)
    wrong = factories.UserFactory()
    wrong.groups.add(Group.objects.get(name="Deal Desk" if group != "Deal Desk" else "Finance"))
    url = f"/api/v1/deals/{deal.pk}/approve/"
    assert as_user(wrong).post(url, {"tier": tier}, format="json").status_code == 403
    assert as_user(manager.user).post(url, {"tier": tier}, format="json").status_code == 403
    right = factories.UserFactory()
    right.groups.add(Group.objects.get(name=group))
    assert as_user(right).post(url, {"tier": tier}, format="json").status_code == 200


def test_reject_needs_a_note_keeps_the_deal_blocked(ae, manager):
    deal, _ = _to_proposal(ae, discount_percent=Decimal("12"))
    url = f"/api/v1/deals/{deal.pk}/reject-approval/"
    client = as_user(manager.user)
    assert client.post(url, {"tier": "manager"}, format="json").status_code == 400
    rejected = client.post(url, {"tier": "manager", "note": "too deep for this segment"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert Deal.objects.get(pk=deal.pk).needs_approval
    assert move(as_user(ae.user), deal, "negotiation", **NEGOTIATION).status_code == 400
    # Back to standard terms: nothing to approve any more.
    body = as_user(ae.user).patch(f"/api/v1/deals/{deal.pk}/", {"discount_percent": "0"}, format="json").json()
    assert "needs_approval" not in body["flags"]


def test_skipping_proposal_with_a_deep_discount_is_blocked_until_requested_and_approved(ae):
    deal = fill(DealFactory(owner=ae.user, discount_percent=Decimal("50")), "discovery")
    client = as_user(ae.user)
    assert move(client, deal, "discovery").status_code == 200
    assert move(client, deal, "negotiation", **NEGOTIATION).status_code == 400
    requested = client.post(f"/api/v1/deals/{deal.pk}/request-approval/")
    assert [a["tier"] for a in requested.json()] == ["deal_desk"]
    desk = factories.UserFactory()
    desk.groups.add(Group.objects.get(name="Deal Desk"))
    assert as_user(desk).post(f"/api/v1/deals/{deal.pk}/approve/", {}, format="json").status_code == 200
    assert move(client, deal, "negotiation", **NEGOTIATION).status_code == 200


def test_exceptions_report_counts_the_most_requested(ae, manager):
    for _ in range(3):
        _to_proposal(ae, custom_terms="net-90 payment")
    _to_proposal(ae, discount_percent=Decimal("25"))
    assert as_user(ae.user).get("/api/v1/deals/exceptions/").status_code == 403
    report = as_user(manager.user).get("/api/v1/deals/exceptions/").json()
    assert report["by_exception"][0]["exception"] == "custom_terms" and report["by_exception"][0]["count"] == 3
    assert report["top_requests"][0]["exception_text"] == "net-90 payment"


# ---- closing handoffs -------------------------------------------------------------------------------


def test_closed_won_hands_over_to_customer_success(ae, django_capture_on_commit_callbacks):
    cs_team = factories.TeamFactory(name="CS")
    busy = factories.RepFactory(role="cs", team=cs_team)
    free = factories.RepFactory(role="cs", team=cs_team)
    Task.objects.create(kind="kickoff", title="other", owner=busy.user)
    deal = fill(DealFactory(owner=ae.user), "discovery", "demo", "proposal", "negotiation")
    Deal.objects.filter(pk=deal.pk).update(stage="negotiation")
    second = factories.LeadFactory(lifecycle_stage="opportunity", account=deal.account)
    deal.contacts.add(second)
    NurtureEnrollment.objects.create(lead=deal.lead, sequence="initial")
    with django_capture_on_commit_callbacks(execute=True):
        response = move(as_user(ae.user), deal, "closed_won", **STAGE_DATA["closed_won"])
    assert response.status_code == 200, response.json()
    assert response.json()["cs_owner"] == free.pk
    deal.lead.refresh_from_db()
    second.refresh_from_db()
    assert (deal.lead.lifecycle_stage, second.lifecycle_stage) == ("customer", "customer")
    assert NurtureEnrollment.objects.get(lead=deal.lead).state == "stopped"
    kickoff = Task.objects.get(deal=deal, kind="kickoff")
    assert kickoff.owner_id == free.pk
    assert dt.timedelta(days=1) < kickoff.due_at - Deal.objects.get(pk=deal.pk).closed_at <= dt.timedelta(days=5)
    assert Notification.objects.filter(event="deal.closed_won", channel="webhook").exists()


def test_cs_owner_by_territory_first(ae):
    from routing.models import Territory

    territory = Territory.objects.create(name="DACH", countries=["DE"])
    factories.RepFactory(role="cs")
    local = factories.RepFactory(role="cs")
    local.territories.add(territory)
    deal = fill(DealFactory(owner=ae.user), "closed_won")
    deal.account.country = "DE"
    deal.account.save()
    response = move(as_user(ae.user), deal, "closed_won", **STAGE_DATA["closed_won"])
    assert response.json()["cs_owner"] == local.pk


def test_closed_lost_recycles_contacts_with_the_reason_and_asks_for_a_post_mortem(ae):
    deal = DealFactory(owner=ae.user)
    response = move(as_user(ae.user), deal, "closed_lost", loss_reason="Lost to competitor", competitor="Globex")
    assert response.status_code == 200, response.json()
    deal.lead.refresh_from_db()
    assert deal.lead.lifecycle_stage == "recycled"
    assert deal.lead.loss_reason == "Lost to competitor (competitor: Globex)"
    task = Task.objects.get(deal=deal, kind="post_mortem")
    assert task.owner_id == ae.pk
    assert response.json()["closed_at"] is not None


def test_metrics_endpoint(ae, admin_api):
    deal = DealFactory(owner=ae.user, source="webinar")
    move(as_user(ae.user), deal, "closed_lost", loss_reason="timing")
    body = admin_api.get("/api/v1/deals/metrics/?quota=30000").json()
    assert body["win_rate_by_source"][0]["source"] == "webinar"
    assert body["closed"] == 1 and body["win_rate"] == 0.0


def test_a_move_that_changes_the_close_date_needs_the_reason_too(ae):
    deal = fill(DealFactory(owner=ae.user), "discovery", "demo", "proposal")
    Deal.objects.filter(pk=deal.pk).update(stage="proposal")
    client = as_user(ae.user)
    assert move(client, deal, "negotiation", **STAGE_DATA["negotiation"]).status_code == 400
    ok = move(client, deal, "negotiation", close_date_reason="procurement", **STAGE_DATA["negotiation"])
    assert ok.status_code == 200 and ok.json()["close_date_pushes"] == 1


def test_admin_stage_button_runs_the_service(admin_user, client):
    deal = fill(DealFactory(), "discovery")
    client.force_login(admin_user)
    response = client.post(f"/admin/pipeline/deal/{deal.pk}/transition/to_discovery/", {"reason": ""})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "discovery"
    assert DealStageChange.objects.filter(deal=deal, stage="discovery").exists()
    assert client.get("/admin/pipeline/deal/").status_code == 200
    assert client.get(f"/admin/pipeline/deal/{deal.pk}/change/").status_code == 200
    assert client.get("/admin/pipeline/approval/").status_code == 200


def test_decidable_approvals_match_can_decide_in_a_fixed_number_of_queries(ae, manager,
                                                                           django_assert_num_queries):
    from pipeline.selectors import approvals_decidable_by
    from pipeline.services import can_decide

    for terms in ({"discount_percent": Decimal("15")}, {"discount_percent": Decimal("25")},
                  {"discount_percent": Decimal("45")}, {"term_months": 24}):
        _to_proposal(ae, **terms)
    vp, desk, outsider = factories.UserFactory(), factories.UserFactory(), factories.UserFactory()
    vp.groups.add(Group.objects.get(name="VP Sales"))
    desk.groups.add(Group.objects.get(name="Deal Desk"))
    pending = list(Approval.objects.filter(state="pending"))
    for user in (manager.user, vp, desk, outsider, ae.user):
        expected = sorted(a.pk for a in pending if can_decide(user=user, approval=a))
        assert sorted(approvals_decidable_by(user=user).values_list("pk", flat=True)) == expected
    assert sorted(approvals_decidable_by(user=vp).values_list("tier", flat=True)) == ["manager", "vp"]
    with django_assert_num_queries(2):  # the user's groups, then the approvals
        assert len(list(approvals_decidable_by(user=manager.user))) == 1
    for _ in range(5):
        _to_proposal(ae, discount_percent=Decimal("15"))
    with django_assert_num_queries(2):
        assert len(list(approvals_decidable_by(user=manager.user))) == 6
