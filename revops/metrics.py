"""Set-based metric selectors for the dashboards and the metrics API (SPEC §9).

Every function here is a read use-case: it takes the requesting ``user`` (visibility comes from
``leads.access``), a date range, and answers with plain dicts and lists. Each one runs a fixed
number of aggregate queries whatever the number of leads or deals (tests assert it).

Definitions (written down in docs/decisions.md):

* A date range is two dates, UTC, both ends included: ``[start 00:00, end + 1 day 00:00)``.
* ``leads``  = leads created in the range.
  ``mqls`` / ``sqls`` / ``opportunities`` / ``won`` = leads whose ``first_mql_at`` /
  ``first_sql_at`` / ``first_opportunity_at`` / ``first_customer_at`` falls in the range —
  the first time they reached the stage, wherever they are now.
* Rates divide consecutive funnel counts of the same range: ``lead_to_mql = mqls / leads``,
  ``mql_to_sql = sqls / mqls``, ``sql_to_opportunity = opportunities / sqls``,
  ``win_rate = won / opportunities`` (seed 001: closed-won / total opportunities). A rate is a
  fraction rounded to 4 decimals (0.3333), and ``null`` when its denominator is 0.
* Recycled-MQL conversion: recycled leads (``is_recycled``) that became MQL again in the range
  (``mql_at``), and how many of them reached SQL after that MQL (``sql_at >= mql_at``).
* Top rejection reasons: leads rejected in the range (``recycled_at`` or ``archived_at`` in range)
  with a reason code, counted by code.
* Pipeline metrics (stage conversion, time in stage, velocity, coverage, win rate by source) are
  ``pipeline.selectors.pipeline_metrics``; speed-to-lead is ``routing.selectors.speed_to_lead``.
  They are reused here, not duplicated.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from leads import access
from leads.models import Lead

DEFAULT_DAYS = 30
MAX_DAYS = 3660
FUNNEL_STAGES = (
    ("leads", "Leads"),
    ("mqls", "MQLs"),
    ("sqls", "SQLs"),
    ("opportunities", "Opportunities"),
    ("won", "Won"),
)


# ---- date ranges ----------------------------------------------------------------------------------


def parse_range(start: str | None, end: str | None, *, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Two ``YYYY-MM-DD`` strings -> dates. Missing ends default to the last 30 days.

    Raises ``ValidationError`` naming ``start`` or ``end`` on a bad date or an inverted range.
    """
    today = today or timezone.now().date()
    errors: dict[str, str] = {}
    parsed: dict[str, dt.date | None] = {}
    for name, value in (("start", start), ("end", end)):
        if value in (None, ""):
            parsed[name] = None
            continue
        try:
            parsed[name] = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            errors[name] = "Enter a date as YYYY-MM-DD."
    if errors:
        raise ValidationError(errors)
    end_date = parsed["end"] or today
    start_date = parsed["start"] or (end_date - dt.timedelta(days=DEFAULT_DAYS - 1))
    if start_date > end_date:
        raise ValidationError({"start": "start must be on or before end."})
    if (end_date - start_date).days > MAX_DAYS:
        raise ValidationError({"start": f"The range may span at most {MAX_DAYS} days."})
    return start_date, end_date


def bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The half-open UTC instant range covering both dates entirely."""
    utc = dt.timezone.utc
    return (dt.datetime.combine(start, dt.time.min, tzinfo=utc),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=utc))


def _in(field: str, lo: dt.datetime, hi: dt.datetime) -> Q:
    return Q(**{f"{field}__gte": lo, f"{field}__lt": hi})


def rate(numerator, denominator) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def can_read_dashboards(user) -> bool:
    """Managers (reps with the manager role) and admins; each sees their own scope."""
    return access.scope_for(user) in (access.ALL, access.TEAM)


def visible_leads(user):
    """Leads the user may see, as a queryset without duplicate rows.

    ``access.restrict_leads`` ORs across the assignment join; wrapping it in ``pk__in`` keeps
    COUNT() exact however many assignments a lead has.
    """
    if access.scope_for(user) == access.ALL:
        return Lead.objects.all()
    return Lead.objects.filter(pk__in=access.restrict_leads(Lead.objects.all(), user).values("pk"))


def visible_deals(user):
    from pipeline.models import Deal

    return access.restrict_by_owner(Deal.objects.all(), user)


# ---- funnel ---------------------------------------------------------------------------------------


def funnel(*, user, start: dt.date, end: dt.date) -> dict:
    """API.md ``/metrics/funnel/``: one aggregate query."""
    lo, hi = bounds(start, end)
    counts = visible_leads(user).aggregate(
        leads=Count("id", filter=_in("created_at", lo, hi)),
        mqls=Count("id", filter=_in("first_mql_at", lo, hi)),
        sqls=Count("id", filter=_in("first_sql_at", lo, hi)),
        opportunities=Count("id", filter=_in("first_opportunity_at", lo, hi)),
        won=Count("id", filter=_in("first_customer_at", lo, hi)),
    )
    return {
        **counts,
        "lead_to_mql": rate(counts["mqls"], counts["leads"]),
        "mql_to_sql": rate(counts["sqls"], counts["mqls"]),
        "sql_to_opportunity": rate(counts["opportunities"], counts["sqls"]),
        "win_rate": rate(counts["won"], counts["opportunities"]),
    }


def funnel_steps(data: dict) -> list[dict]:
    """The funnel as rows with the conversion from and the drop-off after the previous stage."""
    rows = []
    previous = None
    for key, label in FUNNEL_STAGES:
        value = data[key]
        rows.append({
            "stage": label, "count": value,
            "conversion": rate(value, previous) if previous is not None else None,
            "drop_off": (previous - value) if previous is not None else None,
        })
        previous = value
    return rows


# ---- marketing ------------------------------------------------------------------------------------


def lead_volume_by_day(*, user, start: dt.date, end: dt.date) -> list[dict]:
    lo, hi = bounds(start, end)
    rows = (visible_leads(user).filter(_in("created_at", lo, hi)).annotate(day=TruncDate("created_at"))
            .values("day").annotate(leads=Count("id"), mqls=Count("id", filter=_in("first_mql_at", lo, hi)))
            .order_by("day"))
    return [{"day": r["day"], "leads": r["leads"], "mqls": r["mqls"]} for r in rows]


def mql_volume_by_source(*, user, start: dt.date, end: dt.date, limit: int = 25) -> list[dict]:
    lo, hi = bounds(start, end)
    rows = (visible_leads(user).filter(_in("first_mql_at", lo, hi)).values("source").annotate(mqls=Count("id"))
            .order_by("-mqls", "source")[:limit])
    return [{"source": r["source"] or "(none)", "mqls": r["mqls"]} for r in rows]


def mql_volume_by_campaign(*, user, start: dt.date, end: dt.date, limit: int = 25) -> list[dict]:
    lo, hi = bounds(start, end)
    rows = (visible_leads(user).filter(_in("first_mql_at", lo, hi)).values("source", "campaign")
            .annotate(mqls=Count("id")).order_by("-mqls", "source", "campaign")[:limit])
    return [{"source": r["source"] or "(none)", "campaign": r["campaign"] or "(none)", "mqls": r["mqls"]}
            for r in rows]


def top_rejection_reasons(*, user, start: dt.date, end: dt.date, limit: int = 10) -> list[dict]:
    lo, hi = bounds(start, end)
    rows = (visible_leads(user).filter(reason_code__isnull=False)
            .filter(_in("recycled_at", lo, hi) | _in("archived_at", lo, hi))
            .values("reason_code__code", "reason_code__reason").annotate(leads=Count("id"))
            .order_by("-leads", "reason_code__code")[:limit])
    return [{"code": r["reason_code__code"], "reason": r["reason_code__reason"], "leads": r["leads"]} for r in rows]


def recycled_conversion(*, user, start: dt.date, end: dt.date) -> dict:
    """Recycled MQLs (re-qualified in range) vs first-time MQLs, and how many of each reached SQL."""
    lo, hi = bounds(start, end)
    reached_sql = Q(sql_at__isnull=False, sql_at__gte=F("mql_at"))
    data = visible_leads(user).filter(_in("mql_at", lo, hi)).aggregate(
        recycled_mqls=Count("id", filter=Q(is_recycled=True)),
        recycled_sqls=Count("id", filter=Q(is_recycled=True) & reached_sql),
        new_mqls=Count("id", filter=Q(is_recycled=False)),
        new_sqls=Count("id", filter=Q(is_recycled=False) & reached_sql),
    )
    data["recycled_rate"] = rate(data["recycled_sqls"], data["recycled_mqls"])
    data["new_rate"] = rate(data["new_sqls"], data["new_mqls"])
    return data


def marketing(*, user, start: dt.date, end: dt.date) -> dict:
    return {
        "funnel": funnel(user=user, start=start, end=end),
        "volume_by_day": lead_volume_by_day(user=user, start=start, end=end),
        "mql_by_source": mql_volume_by_source(user=user, start=start, end=end),
        "mql_by_campaign": mql_volume_by_campaign(user=user, start=start, end=end),
        "rejection_reasons": top_rejection_reasons(user=user, start=start, end=end),
        "recycled": recycled_conversion(user=user, start=start, end=end),
    }


# ---- sales ----------------------------------------------------------------------------------------


def speed_to_lead(*, user, start: dt.date, end: dt.date, now: dt.datetime | None = None) -> dict:
    """routing.selectors.speed_to_lead over the range, with rep names (one extra query)."""
    from django.contrib.auth import get_user_model

    from routing.selectors import speed_to_lead as routing_speed_to_lead

    lo, hi = bounds(start, end)
    data = routing_speed_to_lead(user=user, start=lo, end=hi, now=now or timezone.now())
    ids = [row["rep"] for row in data.get("by_rep", []) if row["rep"] is not None]
    names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username")) if ids else {}
    for row in data.get("by_rep", []):
        row["name"] = names.get(row["rep"], "(unowned)")
    hours = {row["hour"]: row for row in data.get("by_hour", [])}
    data["by_hour_full"] = [hours.get(h, {"hour": h, "count": 0, "mean_minutes": None}) for h in range(24)]
    return data


def pipeline_by_stage(*, user) -> list[dict]:
    from pipeline.models import Deal

    rows = dict((r["stage"], (r["n"], r["value"])) for r in
                 visible_deals(user).open().values("stage").annotate(n=Count("id"), value=Sum("amount"))
                 .order_by("stage"))
    out = []
    for stage, label in Deal.Stage.choices:
        if stage in Deal.CLOSED:
            continue
        n, value = rows.get(stage, (0, None))
        out.append({"stage": stage, "label": label, "deals": n, "value": value or Decimal(0)})
    return out


def stale_deals(*, user, limit: int = 50) -> list[dict]:
    now = timezone.now()
    rows = (visible_deals(user).open().filter(stale=True).select_related("owner", "account")
            .order_by("stage_entered_at", "id")[:limit])
    out = []
    for deal in rows:
        entered = deal.stage_entered_at or deal.created_at
        out.append({
            "id": deal.pk, "name": deal.name, "stage": deal.get_stage_display(),
            "owner": deal.owner.get_username() if deal.owner else "",
            "amount": deal.amount, "close_date": deal.close_date,
            "days_in_stage": (now - entered).days if entered else None,
            "flags": deal.flags,
        })
    return out


def pipeline(*, user, start: dt.date, end: dt.date, quota: Decimal | None = None) -> dict:
    from pipeline.selectors import pipeline_metrics

    return pipeline_metrics(start=start, end=end, quota=quota, user=user)


def sales(*, user, start: dt.date, end: dt.date) -> dict:
    return {
        "funnel": funnel(user=user, start=start, end=end),
        "speed": speed_to_lead(user=user, start=start, end=end),
        "pipeline": pipeline(user=user, start=start, end=end),
        "by_stage": pipeline_by_stage(user=user),
        "stale": stale_deals(user=user),
    }


# ---- executive and automation health --------------------------------------------------------------


def automation_health(*, user, start: dt.date, end: dt.date) -> dict:
    """Background jobs run / failed (django-q2 task results) and SLA escalations fired in the range."""
    from django_q.models import Task as QTask

    from routing.models import SlaStep

    lo, hi = bounds(start, end)
    jobs = QTask.objects.filter(started__gte=lo, started__lt=hi).aggregate(
        succeeded=Count("id", filter=Q(success=True)), failed=Count("id", filter=Q(success=False)))
    steps = SlaStep.objects.all()
    if access.scope_for(user) != access.ALL:
        steps = steps.filter(lead__in=visible_leads(user).values("pk"))
    fired = steps.filter(status=SlaStep.Status.FIRED, fired_at__gte=lo, fired_at__lt=hi)
    escalations = fired.aggregate(escalations=Count("id"), breaches=Count("id", filter=Q(breach=True)))
    by_action = list(fired.values("action").annotate(n=Count("id")).order_by("-n", "action"))
    return {**jobs, **escalations, "by_action": [{"action": r["action"], "count": r["n"]} for r in by_action]}


def executive(*, user, start: dt.date, end: dt.date, quota: Decimal | None = None) -> dict:
    data = funnel(user=user, start=start, end=end)
    return {
        "funnel": data,
        "steps": funnel_steps(data),
        "pipeline": pipeline(user=user, start=start, end=end, quota=quota),
        "health": automation_health(user=user, start=start, end=end),
    }


def mql_hour_histogram(*, user, start: dt.date, end: dt.date) -> list[dict]:
    """MQLs by hour of day (UTC): shows when coverage is needed."""
    lo, hi = bounds(start, end)
    rows = dict(visible_leads(user).filter(_in("first_mql_at", lo, hi)).annotate(h=ExtractHour("first_mql_at"))
                .values("h").annotate(n=Count("id")).values_list("h", "n"))
    return [{"hour": h, "mqls": rows.get(h, 0)} for h in range(24)]
