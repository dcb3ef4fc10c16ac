"""Reason-code outcomes, the recycling nurture and its sweepers, with a controlled clock."""

from datetime import date, datetime, timedelta
from datetime import timezone as tz

import pytest

from leads.models import EngagementEvent, Lead, NurtureEnrollment, ReasonCode
from leads.recycling import (
    lead_reject,
    rejection_outcome,
    sweep_recycle_dates,
    sweep_recycling_expiry,
)
from tests import factories

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=tz.utc)


@pytest.mark.parametrize("code, action, days, archive, recycle_at, starts_now", [
    ("FIT-01", "nurture", None, False, None, True),
    ("FIT-02", "archive", None, True, None, False),
    ("FIT-03", "nurture", None, False, None, True),
    ("ENG-01", "recycle_after", 90, False, datetime(2026, 5, 31, 15, 0, tzinfo=tz.utc), False),
    ("ENG-02", "recycle_after", 60, False, datetime(2026, 5, 1, 15, 0, tzinfo=tz.utc), False),
    ("QUAL-01", "recycle_after", 90, False, datetime(2026, 5, 31, 15, 0, tzinfo=tz.utc), False),
    ("QUAL-02", "recycle_before_renewal", None, False, datetime(2026, 5, 31, 15, 0, tzinfo=tz.utc), False),
    ("QUAL-03", "archive", None, True, None, False),
])
def test_rejection_outcome_per_code_without_renewal_date(code, action, days, archive, recycle_at, starts_now):
    outcome = rejection_outcome(action=action, recycle_days=days, at=T0)
    assert (outcome.archive, outcome.recycle_at, outcome.nurture_starts_now) == (archive, recycle_at, starts_now)


def test_qual02_reengages_90_days_before_the_renewal():
    outcome = rejection_outcome(action="recycle_before_renewal", recycle_days=None, at=T0,
                                contract_renewal_date=date(2027, 1, 31))
    assert outcome.recycle_at == datetime(2026, 11, 2, 9, 0, tzinfo=tz.utc)
    soon = rejection_outcome(action="recycle_before_renewal", recycle_days=None, at=T0,
                             contract_renewal_date=date(2026, 4, 1))
    assert (soon.recycle_at, soon.nurture_starts_now) == (None, True)


@pytest.mark.django_db
@pytest.mark.parametrize("code, stage, nurture_state, recycle_at", [
    ("FIT-01", "recycled", "active", None),
    ("FIT-02", "archived", None, None),
    ("FIT-03", "recycled", "active", None),
    ("ENG-01", "recycled", "paused", T0 + timedelta(days=90)),
    ("ENG-02", "recycled", "paused", T0 + timedelta(days=60)),
    ("QUAL-01", "recycled", "paused", T0 + timedelta(days=90)),
    ("QUAL-02", "recycled", "paused", T0 + timedelta(days=90)),
    ("QUAL-03", "archived", None, None),
])
def test_reject_service_per_code(code, stage, nurture_state, recycle_at):
    lead = factories.LeadFactory(lifecycle_stage=Lead.Stage.MQL, owner=factories.UserFactory())
    NurtureEnrollment.objects.create(lead=lead, sequence="initial", state="paused")
    lead_reject(lead=lead, reason_code=ReasonCode.objects.get(code=code), at=T0)
    lead.refresh_from_db()
    assert (lead.lifecycle_stage, lead.recycle_at, lead.engagement_reset_at, lead.reason_code.code) == (
        stage, recycle_at, T0, code)
    states = dict(lead.nurture_enrollments.values_list("sequence", "state"))
    assert states.get("recycling") == nurture_state
    assert states["initial"] == "stopped"


@pytest.mark.django_db
def test_recycle_date_sweeper_starts_nurture_once():
    lead = factories.LeadFactory(lifecycle_stage=Lead.Stage.MQL, owner=factories.UserFactory())
    lead_reject(lead=lead, reason_code=ReasonCode.objects.get(code="ENG-02"), at=T0)
    assert sweep_recycle_dates(now=T0 + timedelta(days=59, hours=23)) == 0
    day60 = T0 + timedelta(days=60)
    assert sweep_recycle_dates(now=day60) == 1
    assert sweep_recycle_dates(now=day60 + timedelta(minutes=1)) == 0  # each fires once
    enrollment = lead.nurture_enrollments.get(sequence="recycling")
    assert (enrollment.state, enrollment.ends_at) == ("active", day60 + timedelta(days=182))


@pytest.mark.django_db
def test_six_month_archive_only_without_engagement():
    quiet = factories.LeadFactory(lifecycle_stage=Lead.Stage.MQL, owner=factories.UserFactory())
    engaged = factories.LeadFactory(lifecycle_stage=Lead.Stage.MQL, owner=factories.UserFactory())
    for lead in (quiet, engaged):
        lead_reject(lead=lead, reason_code=ReasonCode.objects.get(code="FIT-01"), at=T0)
    NurtureEnrollment.objects.update(created_at=T0, ends_at=T0 + timedelta(days=182))
    EngagementEvent.objects.create(lead=engaged, type="blog_visit", occurred_at=T0 + timedelta(days=30),
                                   idempotency_key="e1")
    assert sweep_recycling_expiry(now=T0 + timedelta(days=181)) == 0
    end = T0 + timedelta(days=182)
    assert sweep_recycling_expiry(now=end) == 1
    assert sweep_recycling_expiry(now=end + timedelta(hours=1)) == 0
    quiet.refresh_from_db()
    engaged.refresh_from_db()
    assert (quiet.lifecycle_stage, quiet.archived_at) == ("archived", end)
    assert engaged.lifecycle_stage == "recycled"
    assert set(NurtureEnrollment.objects.filter(sequence="recycling").values_list("state", flat=True)) == {
        "stopped"}
