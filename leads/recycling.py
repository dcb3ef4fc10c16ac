"""Rejection outcomes, the recycling nurture and its two sweepers (SPEC §6, seed 001 reason codes).

* ``rejection_outcome`` is pure: reason code + dates -> target stage, re-engagement date, nurture plan.
* ``lead_apply_rejection`` enrolls the rejected lead in the recycling nurture (lower cadence, 6 months).
* ``sweep_recycle_dates`` starts the recycling nurture on each lead's re-engagement date.
* ``sweep_recycling_expiry`` archives leads whose 6 months of recycling brought no engagement.

Both sweepers claim each lead with a conditional UPDATE on its due-at column, so a
second sweeper running at the same time, or a retried job, changes nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from .models import EngagementEvent, Lead, NurtureEnrollment, ReasonCode
from .services import enqueue_on_commit, lead_transition, nurture_set_state, record_change

logger = logging.getLogger(__name__)

BATCH = 200


def recycling_cadence_days() -> int:
    """Recycling nurture cadence (default every two weeks; lower than the initial nurture)."""
    return int(getattr(settings, "RECYCLING_NURTURE_CADENCE_DAYS", 14))


def recycling_duration_days() -> int:
    """How long the recycling nurture runs before a lead with no engagement is archived (6 months)."""
    return int(getattr(settings, "RECYCLING_NURTURE_DAYS", 182))


def renewal_lead_days() -> int:
    """QUAL-02: how long before the competitor's contract renewal the lead is re-engaged."""
    return int(getattr(settings, "RENEWAL_LEAD_DAYS", 90))


@dataclass(frozen=True)
class RejectionOutcome:
    archive: bool
    recycle_at: datetime | None  # re-engagement date; None = nurture starts at once (or never, if archived)
    nurture_starts_now: bool


def rejection_outcome(*, action: str, recycle_days: int | None, at: datetime,
                      contract_renewal_date: date | None = None) -> RejectionOutcome:
    """What a reason code does to a rejected lead (pure; the table of seed 001).

    * archive (FIT-02, QUAL-03): archived, no recycling.
    * nurture (FIT-01, FIT-03): recycled, recycling nurture starts now.
    * recycle_after (ENG-01 / QUAL-01: 90 days, ENG-02: 60 days): recycled, nurture starts after the delay.
    * recycle_before_renewal (QUAL-02): re-engaged ``renewal_lead_days`` before the renewal date when given
      (at once if that is already past), else after 90 days.
    """
    if action == ReasonCode.Action.ARCHIVE:
        return RejectionOutcome(archive=True, recycle_at=None, nurture_starts_now=False)
    if action == ReasonCode.Action.NURTURE:
        return RejectionOutcome(archive=False, recycle_at=None, nurture_starts_now=True)
    if action == ReasonCode.Action.RECYCLE_BEFORE_RENEWAL and contract_renewal_date is not None:
        start = datetime.combine(contract_renewal_date - timedelta(days=renewal_lead_days()), time(9),
                                 tzinfo=dt_timezone.utc)
        if start <= at:
            return RejectionOutcome(archive=False, recycle_at=None, nurture_starts_now=True)
        return RejectionOutcome(archive=False, recycle_at=start, nurture_starts_now=False)
    days = recycle_days if recycle_days is not None else 90
    return RejectionOutcome(archive=False, recycle_at=at + timedelta(days=days), nurture_starts_now=False)


def _enroll_recycling(*, lead: Lead, at: datetime, active: bool, actor=None) -> NurtureEnrollment:
    """Create (or restart) the lead's recycling enrollment; tell the marketing tool."""
    enrollment, created = NurtureEnrollment.objects.select_for_update().get_or_create(
        lead=lead, sequence=NurtureEnrollment.Sequence.RECYCLING,
        defaults={"cadence_days": recycling_cadence_days(),
                  "ends_at": at + timedelta(days=recycling_duration_days()) if active else None},
    )
    if not created:
        # A lead recycled again: the sequence restarts from scratch (a fresh row keeps the machine simple).
        enrollment.delete()
        return _enroll_recycling(lead=lead, at=at, active=active, actor=actor)
    if not active:
        enrollment.pause()
    record_change(enrollment, actor=actor, reason="rejected: recycling nurture")
    enrollment.save()
    payload = [{"lead": lead.pk, "email": lead.email, "sequence": enrollment.sequence, "state": enrollment.state,
                "cadence_days": enrollment.cadence_days}]
    enqueue_on_commit("revops.notifications.send_webhook", event="nurture.changed", payload=payload,
                      dedupe_key=f"nurture-{enrollment.pk}-enrolled")
    return enrollment


@transaction.atomic
def lead_reject(*, lead: Lead, reason_code: ReasonCode, at: datetime, actor=None,
                contract_renewal_date: date | None = None) -> Lead:
    """Reject an MQL/SQL with a reason code: recycle or archive as the code says, reset engagement, keep fit.

    Engagement is reset by ``engagement_reset_at`` (earlier events stop counting); the caller
    rescores the lead afterwards so the stored scores follow.
    """
    if reason_code is None:
        from django.core.exceptions import ValidationError

        raise ValidationError({"reason_code": "A known reason code is required."})
    outcome = rejection_outcome(action=reason_code.action, recycle_days=reason_code.recycle_days, at=at,
                                contract_renewal_date=contract_renewal_date)
    lead_transition(lead=lead, transition="reject", actor=actor, reason=f"rejected {reason_code.code}", at=at,
                    reason_code=reason_code, recycle_at=outcome.recycle_at,
                    contract_renewal_date=contract_renewal_date)
    # The initial nurture is replaced by the recycling nurture (or ends with the archive).
    nurture_set_state(lead=lead, state=NurtureEnrollment.State.STOPPED, actor=actor,
                      sequences=[NurtureEnrollment.Sequence.INITIAL])
    if not outcome.archive:
        _enroll_recycling(lead=lead, at=at, active=outcome.nurture_starts_now, actor=actor)
    else:
        nurture_set_state(lead=lead, state=NurtureEnrollment.State.STOPPED, actor=actor)
    return lead


def sweep_recycle_dates(*, now: datetime, batch: int = BATCH) -> int:
    """Start the recycling nurture of every recycled lead whose re-engagement date has come. Returns the count."""
    due = list(
        Lead.objects.filter(lifecycle_stage=Lead.Stage.RECYCLED, recycle_at__lte=now)
        .order_by("recycle_at").values_list("pk", "recycle_at")[:batch]
    )
    started = 0
    for lead_id, recycle_at in due:
        with transaction.atomic():
            # Claim: only the sweeper whose UPDATE matches the old value goes on.
            if not Lead.objects.filter(pk=lead_id, recycle_at=recycle_at).update(recycle_at=None):
                continue
            enrollment = (NurtureEnrollment.objects.select_for_update()
                          .filter(lead_id=lead_id, sequence=NurtureEnrollment.Sequence.RECYCLING).first())
            if enrollment is None:
                lead = Lead.objects.get(pk=lead_id)
                _enroll_recycling(lead=lead, at=now, active=True)
            elif enrollment.state == NurtureEnrollment.State.PAUSED:
                enrollment.resume()
                enrollment.ends_at = now + timedelta(days=recycling_duration_days())
                record_change(enrollment, actor=None, reason="re-engagement date reached")
                enrollment.save()
                payload = [{"lead": lead_id, "sequence": enrollment.sequence, "state": enrollment.state}]
                enqueue_on_commit("revops.notifications.send_webhook", event="nurture.changed", payload=payload,
                                  dedupe_key=f"nurture-{enrollment.pk}-resumed")
            started += 1
    return started


def sweep_recycling_expiry(*, now: datetime, batch: int = BATCH) -> int:
    """Archive recycled leads whose 6-month recycling nurture ended without engagement. Returns the count.

    A lead that engaged during recycling keeps its stage; only its finished sequence stops.
    """
    engaged = EngagementEvent.objects.filter(lead_id=OuterRef("lead_id"), occurred_at__gte=OuterRef("created_at"))
    due = list(
        NurtureEnrollment.objects.filter(
            sequence=NurtureEnrollment.Sequence.RECYCLING, state=NurtureEnrollment.State.ACTIVE, ends_at__lte=now)
        .annotate(engaged=Exists(engaged)).order_by("ends_at")
        .values_list("pk", "lead_id", "lead__lifecycle_stage", "engaged")[:batch]
    )
    archived = 0
    for enrollment_id, lead_id, stage, was_engaged in due:
        with transaction.atomic():
            if not NurtureEnrollment.objects.filter(pk=enrollment_id, state=NurtureEnrollment.State.ACTIVE,
                                                    ends_at__lte=now).update(ends_at=None):
                continue  # another sweeper took it
            enrollment = NurtureEnrollment.objects.get(pk=enrollment_id)
            enrollment.stop()
            record_change(enrollment, actor=None, reason="recycling nurture finished")
            enrollment.save()
            if stage == Lead.Stage.RECYCLED and not was_engaged:
                lead = Lead.objects.select_for_update().get(pk=lead_id)
                lead_transition(lead=lead, transition="archive", actor=None, at=now,
                                reason="6 months in recycling without engagement",
                                cause="6 months in recycling without engagement")
                archived += 1
    return archived
