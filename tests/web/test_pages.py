"""Pages and their actions: auth pages, the lead page's forms, the deal board move, tasks, CSV export."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from leads.models import Lead
from pipeline.models import Activity, Deal, Task
from tests.web.conftest import login, make_mql


def make_deal(lead, owner, *, name="Acme expansion", amount=Decimal("12000")):
    from pipeline.services import deal_create

    if not lead.source:
        Lead.objects.filter(pk=lead.pk).update(source="webinar")
        lead.refresh_from_db()
    return deal_create(name=name, actor=owner, lead=lead, account=lead.account, owner=owner, amount=amount,
                       close_date=timezone.now().date() + dt.timedelta(days=30))


# ---- auth -----------------------------------------------------------------------------------------


def test_login_page_has_auth_fields_and_csrf(db):
    body = Client().get("/accounts/login/").content.decode()
    assert 'name="username"' in body and 'name="password"' in body and "csrfmiddlewaretoken" in body


def test_login_then_queue(rep):
    client = Client()
    response = client.post("/accounts/login/", {"username": "rep", "password": "pass-word-123", "next": "/app/"})
    assert response.status_code == 302 and response["Location"] == "/app/"
    assert client.get("/app/").status_code == 200


def test_logout_is_a_post(rep):
    client = login(rep)
    body = client.get("/app/").content.decode()
    assert 'action="/accounts/logout/"' in body and 'method="post"' in body
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/app/").status_code == 302


def test_password_change(rep):
    client = login(rep)
    page = client.get("/accounts/password_change/")
    assert page.status_code == 200 and b"new_password1" in page.content
    response = client.post("/accounts/password_change/", {
        "old_password": "pass-word-123", "new_password1": "An0ther-Secret-42", "new_password2": "An0ther-Secret-42"})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    rep.refresh_from_db()
    assert rep.check_password("An0ther-Secret-42")


def test_csrf_enforced_on_actions(rep, rep_lead):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    response = client.post(f"/app/leads/{rep_lead.pk}/accept/", {"accept-budget": "on", "accept-need": "on"})
    assert response.status_code == 403
    rep_lead.refresh_from_db()
    assert rep_lead.lifecycle_stage == Lead.Stage.MQL


# ---- queue ----------------------------------------------------------------------------------------


def test_queue_sorted_by_deadline_and_states(rep, team):
    late = make_mql(owner=rep, team=team, first_name="Late", due_in=dt.timedelta(minutes=-5))
    soon = make_mql(owner=rep, team=team, first_name="Soon", due_in=dt.timedelta(minutes=10))
    later = make_mql(owner=rep, team=team, first_name="Later", due_in=dt.timedelta(hours=5))
    body = login(rep).get("/app/").content.decode()
    assert body.index("Late ") < body.index("Soon ") < body.index("Later ")
    assert f'data-lead="{late.pk}"' in body
    row = body[body.index(f'data-lead="{late.pk}"') - 30:]
    assert 'class="breached"' in row[:60]
    assert f'<tr class="near" data-lead="{soon.pk}"' in body
    assert f'<tr class="ok" data-lead="{later.pk}"' in body


def test_queue_filters_use_shared_filterset(rep, team):
    make_mql(owner=rep, team=team, first_name="Webby", source="webinar")
    make_mql(owner=rep, team=team, first_name="Ads", source="paid_ads")
    client = login(rep)
    body = client.get("/app/", {"source": "PAID_ADS"}).content.decode()
    assert "Ads " in body and "Webby" not in body
    partial = client.get("/app/", {"source": "webinar"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and "Webby" in partial
    assert "Nothing in your queue" in client.get("/app/", {"lifecycle_stage": "sql"}).content.decode()
    assert client.get("/app/", {"lifecycle_stage": "bogus"}).status_code == 200


# ---- lead page ------------------------------------------------------------------------------------


def test_lead_page_shows_everything(rep, rep_lead):
    Lead.objects.filter(pk=rep_lead.pk).update(
        fit_score=30, engagement_score=15, score=45,
        score_breakdown=[{"rule": "fit:company.employees", "points": 30, "reason": "Company size 51-200"},
                         {"rule": "engagement:pricing_page_view", "points": 15, "reason": "Pricing page view",
                          "events": [{"id": 1, "type": "pricing_page_view", "occurred_at": "2024-03-01T10:00:00Z"}]}])
    from leads.models import EngagementEvent

    EngagementEvent.objects.create(lead=rep_lead, type="pricing_page_view", occurred_at=timezone.now(),
                                   idempotency_key="k1")
    body = login(rep).get(f"/app/leads/{rep_lead.pk}/").content.decode()
    for text in ("Company size 51-200", "+30", "pricing_page_view", "Pricing page view", "Engagement timeline",
                 "round_robin", "no account owner", "First contact due", "Accept (BANT)", "Reject with a reason",
                 "Log a call", rep_lead.account.name):
        assert text in body, text


def test_accept_with_bant(rep, rep_lead):
    response = login(rep).post(f"/app/leads/{rep_lead.pk}/accept/",
                               {"accept-budget": "on", "accept-need": "on"})
    assert response.status_code == 302
    rep_lead.refresh_from_db()
    assert rep_lead.lifecycle_stage == Lead.Stage.SQL and rep_lead.budget and rep_lead.need


def test_accept_needs_two_bant_shown_next_to_form(rep, rep_lead):
    response = login(rep).post(f"/app/leads/{rep_lead.pk}/accept/", {"accept-budget": "on"})
    assert response.status_code == 400
    assert "at least 2" in response.content.decode()
    rep_lead.refresh_from_db()
    assert rep_lead.lifecycle_stage == Lead.Stage.MQL


def test_accept_htmx_error_returns_partial(rep, rep_lead):
    response = login(rep).post(f"/app/leads/{rep_lead.pk}/accept/", {"accept-budget": "on"},
                               headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="form-accept">')
    ok = login(rep).post(f"/app/leads/{rep_lead.pk}/accept/", {"accept-budget": "on", "accept-need": "on"},
                         headers={"HX-Request": "true"})
    assert ok.headers["HX-Redirect"] == f"/app/leads/{rep_lead.pk}/"


def test_accept_team_queue_lead_without_owner_is_a_message(rep, queue_lead):
    response = login(rep).post(f"/app/leads/{queue_lead.pk}/accept/", {"accept-budget": "on", "accept-need": "on"})
    body = response.content.decode()
    assert response.status_code == 400 and "errorlist nonfield" in body and "owner" in body
    queue_lead.refresh_from_db()
    assert queue_lead.lifecycle_stage == Lead.Stage.MQL


def test_reject_with_reason_code(rep, rep_lead):
    response = login(rep).post(f"/app/leads/{rep_lead.pk}/reject/", {"reject-reason_code": "QUAL-01"})
    assert response.status_code == 302
    rep_lead.refresh_from_db()
    assert rep_lead.lifecycle_stage == Lead.Stage.RECYCLED and rep_lead.reason_code.code == "QUAL-01"


def test_reject_needs_known_code(rep, rep_lead):
    response = login(rep).post(f"/app/leads/{rep_lead.pk}/reject/", {"reject-reason_code": "NOPE"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_other_rep_cannot_act(other_rep, rep_lead):
    response = login(other_rep).post(f"/app/leads/{rep_lead.pk}/accept/",
                                     {"accept-budget": "on", "accept-need": "on"})
    assert response.status_code == 403


def test_log_activity(rep, rep_lead):
    response = login(rep).post(f"/app/leads/{rep_lead.pk}/activities/",
                               {"activity-kind": "call", "activity-note": "Left a voicemail"})
    assert response.status_code == 302
    activity = Activity.objects.get(lead=rep_lead)
    assert activity.kind == "call" and activity.note == "Left a voicemail"
    assert "Left a voicemail" in login(rep).get(f"/app/leads/{rep_lead.pk}/").content.decode()


def test_log_activity_rejects_future_and_bad_kind(rep, rep_lead):
    future = (timezone.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = login(rep).post(f"/app/leads/{rep_lead.pk}/activities/",
                               {"activity-kind": "fax", "activity-occurred_at": future})
    body = response.content.decode()
    assert response.status_code == 400 and "Select a valid choice" in body and "future" in body


def test_convert_to_deal(rep, rep_lead):
    client = login(rep)
    client.post(f"/app/leads/{rep_lead.pk}/accept/", {"accept-budget": "on", "accept-need": "on"})
    response = client.post(f"/app/leads/{rep_lead.pk}/convert/", {
        "convert-name": "Big deal", "convert-amount": "25000", "convert-close_date": "2030-01-31"})
    assert response.status_code == 302, response.content.decode()[:3000]
    rep_lead.refresh_from_db()
    assert rep_lead.lifecycle_stage == Lead.Stage.OPPORTUNITY
    deal = Deal.objects.get(lead=rep_lead)
    assert deal.amount == Decimal("25000") and deal.owner == rep


def test_convert_needs_fields(rep, rep_lead):
    response = login(rep).post(f"/app/leads/{rep_lead.pk}/convert/", {"convert-name": "x"})
    assert response.status_code == 400 and "This field is required" in response.content.decode()


# ---- deal board -----------------------------------------------------------------------------------


def test_board_shows_cards_with_flags(rep, rep_lead):
    deal = make_deal(rep_lead, rep)
    Deal.objects.filter(pk=deal.pk).update(stale=True, forecast_review=True)
    body = login(rep).get("/app/deals/").content.decode()
    assert deal.name in body and "stale" in body and "forecast review" in body and "d in stage" in body


def test_move_asks_for_required_fields(rep, rep_lead):
    deal = make_deal(rep_lead, rep)
    client = login(rep)
    form = client.get(f"/app/deals/{deal.pk}/move/?to=discovery", headers={"HX-Request": "true"})
    body = form.content.decode()
    assert "move-pain_points" in body and "move-current_solution" in body and "move-timeline" in body
    bad = client.post(f"/app/deals/{deal.pk}/move/", {"to": "discovery"})
    assert bad.status_code == 400 and "This field is required" in bad.content.decode()
    ok = client.post(f"/app/deals/{deal.pk}/move/", {
        "to": "discovery", "move-pain_points": "Slow reporting", "move-current_solution": "Spreadsheets",
        "move-timeline": "Q3"})
    assert ok.status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "discovery" and deal.pain_points == "Slow reporting"


def test_move_skip_is_flagged_and_closed_deal_refused(rep, rep_lead):
    deal = make_deal(rep_lead, rep)
    client = login(rep)
    client.post(f"/app/deals/{deal.pk}/move/", {"to": "closed_lost", "move-loss_reason": "No budget"})
    deal.refresh_from_db()
    assert deal.stage == "closed_lost"
    again = client.post(f"/app/deals/{deal.pk}/move/", {
        "to": "discovery", "move-pain_points": "a", "move-current_solution": "b", "move-timeline": "c"})
    assert again.status_code == 400 and "cannot move" in again.content.decode()


def test_approvals_inbox(manager, rep, rep_lead):
    from pipeline.models import Approval

    deal = make_deal(rep_lead, rep)
    approval = Approval.objects.create(deal=deal, tier="manager", approver_role="Sales manager", exception="discount",
                                       exception_text="15% discount", terms_key="k")
    body = login(manager).get("/app/approvals/").content.decode()
    assert "15% discount" in body
    assert "15% discount" not in login(rep).get("/app/approvals/").content.decode()
    response = login(manager).post(f"/app/approvals/{approval.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.state == "approved"


# ---- tasks ----------------------------------------------------------------------------------------


def test_my_tasks_due_and_overdue(rep, rep_lead, teammate):
    now = timezone.now()
    Task.objects.create(kind="first_contact", title="Call Robin", lead=rep_lead, owner=rep,
                        due_at=now - dt.timedelta(hours=1))
    Task.objects.create(kind="follow_up", title="Send deck", owner=rep, due_at=now + dt.timedelta(days=1))
    Task.objects.create(kind="follow_up", title="Done already", owner=rep, due_at=now, completed_at=now)
    Task.objects.create(kind="follow_up", title="Not mine", owner=teammate, due_at=now)
    body = login(rep).get("/app/tasks/").content.decode()
    assert "Call Robin" in body and "Send deck" in body
    assert "Done already" not in body and "Not mine" not in body
    assert "overdue" in body and body.index("Call Robin") < body.index("Send deck")


# ---- dashboards: CSV ------------------------------------------------------------------------------


@pytest.mark.parametrize("url, table, header", [
    ("/app/dashboards/marketing/", "sources", ["source", "mqls"]),
    ("/app/dashboards/sales/", "stale", ["deal", "stage", "owner", "amount", "close_date", "days_in_stage", "flags"]),
    ("/app/dashboards/executive/", "funnel", ["stage", "count", "conversion_from_previous", "drop_off"]),
])
def test_csv_export(manager, rep_lead, url, table, header):
    response = login(manager).get(url, {"export": table})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == header


def test_csv_export_marketing_values(manager, rep_lead, queue_lead):
    rows = list(csv.reader(io.StringIO(
        login(manager).get("/app/dashboards/marketing/", {"export": "sources"}).content.decode())))
    assert rows[1:] == [["webinar", "2"]]


def test_csv_unknown_table_404(manager):
    assert login(manager).get("/app/dashboards/sales/", {"export": "nope"}).status_code == 404


def test_dashboard_bad_range_shows_error(manager):
    response = login(manager).get("/app/dashboards/sales/", {"start": "2024-05-01", "end": "2024-04-01"})
    assert response.status_code == 200 and "start must be on or before end" in response.content.decode()


def test_dashboard_index_redirects(manager):
    response = login(manager).get("/app/dashboards/")
    assert response.status_code == 302 and response["Location"] == "/app/dashboards/executive/"
