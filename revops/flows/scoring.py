"""Activating a scoring model and rescoring its segment: scores can make MQLs, which routing hands
off, so this flow lives at the level that knows scoring, leads and routing."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from leads.services import enqueue_on_commit
from scoring import selectors as scoring_selectors
from scoring import services as scoring_services
from scoring.models import RescoreJob

from .events import leads_rescore_and_qualify

PROGRESS_EVERY = 500


@transaction.atomic
def scoring_model_activate(*, model, actor=None, note: str = "",
                           inline_limit: int = scoring_services.INLINE_RESCORE_LIMIT):
    """Make ``model`` the one active model of its segment and rescore the segment's leads.

    Small segments are rescored (and qualified) inside the call; larger ones by a django-q2 job
    enqueued on commit, whose progress is stored on the returned ``RescoreJob``.
    """
    model, job = scoring_services.scoring_model_activate(model=model, actor=actor, note=note)
    if job.total > inline_limit:
        enqueue_on_commit("revops.jobs.rescore_job_run", job_id=job.pk)
    else:
        rescore_job_run(job_id=job.pk)
        job.refresh_from_db()
    return model, job


def rescore_job_run(*, job_id: int) -> int:
    """Run (or resume) a rescoring job: claim it, rescore its segment in batches, store progress."""
    claimed = RescoreJob.objects.filter(
        pk=job_id, status__in=[RescoreJob.Status.QUEUED, RescoreJob.Status.FAILED]
    ).update(status=RescoreJob.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return 0
    job = scoring_selectors.rescore_job_get(job_id=job_id)
    try:
        models = scoring_selectors.active_models()
        lead_ids = list(scoring_selectors.lead_ids_for_segment(job.segment, models))
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
