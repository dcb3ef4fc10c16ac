"""Browser flows: a rep's morning, a rejection, a deal moved on the board, a manager on every dashboard."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.models import Lead, ReasonCode
from routing.models import Assignment, LeadSla, Rep
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.fixture
def people(db):
    team = factories.TeamFactory(name="East")
    manager = factories.RepFactory(user__username="maya", team=team, role=Rep.Role.MANAGER).user
    rep = factories.RepFactory(user__username="rita", team=team, manager=manager.rep).user
    ReasonCode.objects.get_or_create(code="QUAL-01", defaults={"reason": "No budget", "action": "recycle_after",
                                                               "recycle_days": 90})
    return {"team": team, "manager": manager, "rep": rep}


def mql(people, *, first, last, due_in, score_breakdown=None, **extra):
    now = timezone.now()
    lead = factories.LeadFactory(first_name=first, last_name=last, lifecycle_stage=Lead.Stage.MQL,
                                 owner=people["rep"], mql_at=now, first_mql_at=now, source="webinar",
                                 fit_score=35, engagement_score=25, score=60,
                                 score_breakdown=score_breakdown or [
                                     {"rule": "fit:title_level", "points": 20, "reason": "Director title"},
                                     {"rule": "fit:company.employees", "points": 15, "reason": "Company size 51-200"},
                                     {"rule": "engagement:demo_request", "points": 25, "reason": "Demo request",
                                      "events": [{"type": "demo_request", "occurred_at": now.isoformat()}]}],
                                 **extra)
    Assignment.objects.create(lead=lead, rep=people["rep"].rep, team=people["team"], rule="territory",
                              reason="US / software territory owner")
    LeadSla.objects.create(lead=lead, policy_name="Hot lead", team=people["team"], owner=people["rep"],
                           started_at=now, clock_start=now, first_contact_due=now + due_in)
    return lead


def test_rep_morning(page, shot, people):
    top = mql(people, first="Ada", last="Urgent", due_in=dt.timedelta(minutes=20))
    mql(people, first="Bob", last="Later", due_in=dt.timedelta(hours=3))
    log_in(page, "rita")
    rows = page.locator("#queue-rows tr")
    expect()(rows.first).to_contain_text("Ada Urgent")
    countdown = rows.first.locator("[data-due]")
    expect()(countdown).to_have_attribute("data-state", "near")
    first_text = countdown.inner_text()
    page.wait_for_timeout(1300)
    assert countdown.inner_text() != first_text  # the countdown ticks without a reload
    assert countdown.inner_text().endswith("left")
    shot("queue")

    rows.first.locator("a").first.click()
    page.wait_for_url(f"**/app/leads/{top.pk}/")
    expect()(page.locator("#score-breakdown")).to_contain_text("Director title")
    expect()(page.locator("#score-breakdown")).to_contain_text("demo_request")

    page.check("input[name=activity-kind][value=call]")
    page.fill("#id_activity-note", "Intro call, booked a demo")
    page.click("#form-activity button[type=submit]")
    expect()(page.locator("#activities")).to_contain_text("Intro call, booked a demo")

    page.click("summary:has-text('Accept (BANT)')")
    page.check("#id_accept-budget")
    page.click("#form-accept button[type=submit]")
    expect()(page.locator("#form-accept .errorlist")).to_contain_text("at least 2")
    page.check("#id_accept-budget")
    page.check("#id_accept-need")
    page.click("#form-accept button[type=submit]")
    expect()(page.locator("#lead-stage")).to_have_text("sql")
    shot("accepted")
    top.refresh_from_db()
    assert top.lifecycle_stage == Lead.Stage.SQL and top.budget and top.need


def test_rejection_with_reason_code(page, shot, people):
    lead = mql(people, first="Cy", last="NoBudget", due_in=dt.timedelta(minutes=-3))
    log_in(page, "rita")
    countdown = page.locator(f"tr[data-lead='{lead.pk}'] [data-due]")
    expect()(countdown).to_have_attribute("data-state", "breached")
    expect()(countdown).to_contain_text("breached")
    page.goto(f"/app/leads/{lead.pk}/")
    page.click("summary:has-text('Reject with a reason code')")
    page.select_option("#id_reject-reason_code", "QUAL-01")
    page.click("#form-reject button[type=submit]")
    expect()(page.locator("#lead-stage")).to_have_text("recycled")
    shot()
    lead.refresh_from_db()
    assert lead.reason_code.code == "QUAL-01"


def test_deal_moved_on_board_with_required_fields(page, shot, people):
    from pipeline.services import deal_create

    lead = mql(people, first="Dee", last="Deal", due_in=dt.timedelta(hours=1))
    deal = deal_create(name="Dee Corp platform", lead=lead, account=lead.account, owner=people["rep"],
                       amount=Decimal("48000"), close_date=timezone.now().date() + dt.timedelta(days=45))
    log_in(page, "rita", next_url="/app/deals/")
    card = page.locator(f"#deal-{deal.pk}")
    expect()(card).to_contain_text("48000")
    card.locator("select").select_option("discovery")
    card.locator("button:has-text('Move')").click()
    dialog = page.locator("#move-dialog")
    expect()(dialog).to_be_visible()
    # The target stage's required fields are asked for (and required by the browser too).
    expect()(dialog.locator("#id_move-pain_points")).to_have_attribute("required", "")
    dialog.locator("#id_move-pain_points").fill("Manual reporting takes days")
    dialog.locator("#id_move-current_solution").fill("Spreadsheets")
    dialog.locator("#id_move-timeline").fill("This quarter")
    shot("form")
    dialog.locator("#move-form button[type=submit]").click()
    expect()(page.locator(f".column[data-stage=discovery] #deal-{deal.pk}")).to_be_visible()
    shot()
    deal.refresh_from_db()
    assert deal.stage == "discovery" and deal.current_solution == "Spreadsheets"


def test_manager_reads_dashboards_and_exports_csv(page, shot, people, tmp_path):
    for i in range(3):
        mql(people, first="Eve", last=f"Metric{i}", due_in=dt.timedelta(hours=2))
    log_in(page, "maya")
    page.click("nav >> text=Dashboards")
    page.wait_for_url("**/app/dashboards/executive/")
    for name in ("executive", "marketing", "sales"):
        page.goto(f"/app/dashboards/{name}/")
        expect()(page.locator("svg.chart").first).to_be_visible()
        assert page.locator("svg.chart rect.bar").count() > 0 or name == "sales"
        shot(name)
        link = page.locator("a[data-export]").first
        with page.expect_download() as info:
            link.click()
        target = tmp_path / f"{name}.csv"
        info.value.save_as(target)
        header = target.read_text().splitlines()[0]
        assert "," in header or header
    page.goto("/app/dashboards/marketing/")
    expect()(page.locator("svg[data-chart=sources]")).to_contain_text("webinar")
