"""django-q2 entry points of scoring: primitive ids in, re-fetch, call the flow; idempotent."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from . import selectors
from .models import RescoreJob, ScoreChange

PROGRESS_EVERY = 500


def rescore_job_run(*, job_id: int) -> int:
    """Run (or resume) a rescoring job: claim it, rescore its segment in batches, store progress.

    The MQL decisions go through ``revops.flows.events`` (the flow level owns lifecycle moves);
    imported lazily because tasks are entry points above the app layer.
    """
    from revops.flows.events import leads_rescore_and_qualify

    claimed = RescoreJob.objects.filter(
        pk=job_id, status__in=[RescoreJob.Status.QUEUED, RescoreJob.Status.FAILED]
    ).update(status=RescoreJob.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return 0
    job = selectors.rescore_job_get(job_id=job_id)
    try:
        models = selectors.active_models()
        lead_ids = list(selectors.lead_ids_for_segment(job.segment, models))
        RescoreJob.objects.filter(pk=job_id).update(total=len(lead_ids))
        processed = changed = qualified = 0
        at = timezone.now()
        for start in range(0, len(lead_ids), PROGRESS_EVERY):
            batch = lead_ids[start : start + PROGRESS_EVERY]
            result = leads_rescore_and_qualify(lead_ids=batch, at=at, trigger=job.trigger, models=models)
            processed += len(batch)
            changed += result["changed"]
            qualified += len(result["qualified"])
            RescoreJob.objects.filter(pk=job_id).update(processed=processed, changed=changed, qualified=qualified)
        RescoreJob.objects.filter(pk=job_id).update(status=RescoreJob.Status.DONE, finished_at=timezone.now())
        return processed
    except Exception as exc:
        RescoreJob.objects.filter(pk=job_id).update(status=RescoreJob.Status.FAILED, error=repr(exc)[:2000])
        raise


def rescore_decayed_leads() -> int:
    """Daily: rescore, set-based, the leads whose decayed points may have changed since yesterday.

    An MQL is never demoted: rescoring only stores scores; lifecycle moves are forward-only.
    """
    from revops.flows.events import leads_rescore_and_qualify
    from scoring.services import leads_with_decay_due

    at = timezone.now()
    lead_ids = leads_with_decay_due(since=at - timedelta(days=1), at=at)
    job = RescoreJob.objects.create(segment="", trigger=ScoreChange.Trigger.DECAY, total=len(lead_ids),
                                    status=RescoreJob.Status.RUNNING, started_at=at)
    result = leads_rescore_and_qualify(lead_ids=lead_ids, at=at, trigger=ScoreChange.Trigger.DECAY)
    RescoreJob.objects.filter(pk=job.pk).update(
        processed=len(lead_ids), changed=result["changed"], qualified=len(result["qualified"]),
        status=RescoreJob.Status.DONE, finished_at=timezone.now())
    return len(lead_ids)


def send_buying_committee_alerts(*, alerts: list[dict]) -> int:
    """Deliver the buying-committee alerts one transaction raised (webhook to each account owner).

    Idempotent: each alert carries the dedupe key ``buying-committee:<account>``. Returns how many
    were new.
    """
    from revops.notifications import send_webhook

    return sum(bool(send_webhook(event="account.buying_committee", payload=payload,
                                 dedupe_key=f"buying-committee:{payload['account']}")) for payload in alerts)
