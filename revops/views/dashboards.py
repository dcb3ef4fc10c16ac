"""Manager dashboards (marketing, sales, executive): charts, tables, a date range and CSV export per table.

Each page gets its numbers from ``revops.metrics`` (a fixed number of aggregate queries), builds
named tables and charts from them, and either renders the page or, with ``?export=<table>``,
answers that table as CSV (Python's csv module).
"""

from __future__ import annotations

import csv
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from revops import metrics
from revops.forms import DateRangeForm
from revops.views import charts

DASHBOARDS = (("marketing", "Marketing"), ("sales", "Sales"), ("executive", "Executive"))


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _range(request):
    if not metrics.can_read_dashboards(request.user):
        raise PermissionDenied("Dashboards are for managers and admins.")
    form = DateRangeForm(request.GET or None)
    if form.is_bound and form.is_valid():
        start, end, quota = form.cleaned_data["start"], form.cleaned_data["end"], form.cleaned_data.get("quota")
    else:
        start, end = metrics.parse_range(None, None)
        quota = None
        if not form.is_bound:
            form = DateRangeForm(initial={"start": start, "end": end})
    return form, start, end, quota


def _table(title, headers, rows):
    return {"title": title, "headers": headers, "rows": rows}


def _csv_cell(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # no formula injection when opened in a spreadsheet
    return "" if value is None else value


def _respond(request, name, form, start, end, tables, charts_, extra=None):
    export = request.GET.get("export")
    if export:
        table = tables.get(export)
        if table is None:
            raise Http404("No such table.")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}-{export}-{start}-{end}.csv"'
        writer = csv.writer(response)
        writer.writerow(table["headers"])
        for row in table["rows"]:
            writer.writerow([_csv_cell(v) for v in row])
        return response
    query = request.GET.copy()
    query.pop("export", None)
    query["start"], query["end"] = start.isoformat(), end.isoformat()
    context = {"name": name, "dashboards": DASHBOARDS, "form": form, "start": start, "end": end,
               "tables": tables, "charts": charts_, "query": query.urlencode(), **(extra or {})}
    return render(request, f"dashboards/{name}.html", context)


@login_required
def index(request):
    if not metrics.can_read_dashboards(request.user):
        raise PermissionDenied("Dashboards are for managers and admins.")
    return redirect("web:dashboard-executive")


@login_required
def marketing(request):
    form, start, end, _ = _range(request)
    data = metrics.marketing(user=request.user, start=start, end=end)
    f, rec = data["funnel"], data["recycled"]
    tables = {
        "volume": _table("Lead volume by day", ["day", "leads", "mqls"],
                         [[r["day"], r["leads"], r["mqls"]] for r in data["volume_by_day"]]),
        "rates": _table("Lead-to-MQL", ["leads", "mqls", "lead_to_mql"],
                        [[f["leads"], f["mqls"], f["lead_to_mql"]]]),
        "sources": _table("MQL volume by source", ["source", "mqls"],
                          [[r["source"], r["mqls"]] for r in data["mql_by_source"]]),
        "campaigns": _table("MQL volume by campaign", ["source", "campaign", "mqls"],
                            [[r["source"], r["campaign"], r["mqls"]] for r in data["mql_by_campaign"]]),
        "reasons": _table("Top reasons leads fail qualification", ["code", "reason", "leads"],
                          [[r["code"], r["reason"], r["leads"]] for r in data["rejection_reasons"]]),
        "recycled": _table("Recycled-MQL conversion", ["cohort", "mqls", "reached_sql", "rate"], [
            ["recycled", rec["recycled_mqls"], rec["recycled_sqls"], rec["recycled_rate"]],
            ["first-time", rec["new_mqls"], rec["new_sqls"], rec["new_rate"]]]),
    }
    charts_ = {
        "volume": charts.vbar("Leads created per day", [(r["day"].strftime("%m-%d"), r["leads"])
                                                         for r in data["volume_by_day"]]),
        "sources": charts.hbar("MQLs by source", [(r["source"], r["mqls"]) for r in data["mql_by_source"]]),
        "reasons": charts.hbar("Rejections by reason code", [(r["code"], r["leads"])
                                                             for r in data["rejection_reasons"]]),
    }
    kpis = [("Leads", f["leads"]), ("MQLs", f["mqls"]), ("Lead-to-MQL", _pct(f["lead_to_mql"])),
            ("Recycled-MQL conversion", _pct(rec["recycled_rate"]))]
    return _respond(request, "marketing", form, start, end, tables, charts_, {"kpis": kpis})


@login_required
def sales(request):
    form, start, end, _ = _range(request)
    data = metrics.sales(user=request.user, start=start, end=end)
    speed, pipe, f = data["speed"], data["pipeline"], data["funnel"]
    days = pipe.get("average_days_in_stage", {})
    tables = {
        "speed_by_rep": _table("Speed-to-lead by rep", ["rep", "contacted", "mean_minutes"],
                               [[r["name"], r["count"], r["mean_minutes"]] for r in speed.get("by_rep", [])]),
        "speed_by_hour": _table("Speed-to-lead by hour of MQL (UTC)", ["hour", "contacted", "mean_minutes"],
                                [[r["hour"], r["count"], r["mean_minutes"]] for r in speed["by_hour_full"]]),
        "conversion": _table("Stage conversion", ["from", "to", "entered", "reached_next", "rate"],
                             [[r["from"], r["to"], r["entered"], r["reached_next"], r["rate"]]
                              for r in pipe.get("stage_conversion", [])]),
        "time_in_stage": _table("Average days in stage", ["stage", "days"], [[k, v] for k, v in days.items()]),
        "pipeline": _table("Open pipeline by stage", ["stage", "deals", "value"],
                           [[r["label"], r["deals"], r["value"]] for r in data["by_stage"]]),
        "stale": _table("Stale deals", ["deal", "stage", "owner", "amount", "close_date", "days_in_stage", "flags"],
                        [[r["name"], r["stage"], r["owner"], r["amount"], r["close_date"], r["days_in_stage"],
                          " ".join(r["flags"])] for r in data["stale"]]),
    }
    charts_ = {
        "speed_by_rep": charts.hbar("Mean minutes to first contact, by rep",
                                    [(r["name"], r["mean_minutes"]) for r in speed.get("by_rep", [])], unit=" min"),
        "speed_by_hour": charts.vbar("Mean minutes to first contact, by hour of MQL (UTC)",
                                     [(str(r["hour"]), r["mean_minutes"]) for r in speed["by_hour_full"]]),
        "pipeline": charts.hbar("Open pipeline value by stage", [(r["label"], r["value"]) for r in data["by_stage"]]),
        "time_in_stage": charts.hbar("Average days in stage", list(days.items()), unit=" d"),
    }
    kpis = [("Contacted", speed.get("count", 0)), ("Mean minutes", speed.get("mean_minutes") or "—"),
            ("Median minutes", speed.get("median_minutes") or "—"),
            ("Within SLA", _pct(speed.get("within_sla_share"))), ("MQL-to-SQL", _pct(f["mql_to_sql"])),
            ("Pipeline value", pipe.get("pipeline_value", "0"))]
    return _respond(request, "sales", form, start, end, tables, charts_,
                    {"kpis": kpis, "stale": data["stale"]})


@login_required
def executive(request):
    form, start, end, quota = _range(request)
    data = metrics.executive(user=request.user, start=start, end=end, quota=quota)
    f, pipe, health = data["funnel"], data["pipeline"], data["health"]
    tables = {
        "funnel": _table("Funnel", ["stage", "count", "conversion_from_previous", "drop_off"],
                         [[s["stage"], s["count"], s["conversion"], s["drop_off"]] for s in data["steps"]]),
        "win_rate_by_source": _table("Win rate by source", ["source", "closed", "won", "win_rate"],
                                     [[r["source"] or "(none)", r["closed"], r["won"], r["win_rate"]]
                                      for r in pipe.get("win_rate_by_source", [])]),
        "pipeline": _table("Pipeline", ["open_deals", "pipeline_value", "quota", "coverage", "velocity_per_day",
                                        "win_rate", "average_cycle_days"],
                           [[pipe.get("open_deals"), pipe.get("pipeline_value"), quota, pipe.get("coverage"),
                             pipe.get("velocity_per_day"), pipe.get("win_rate"), pipe.get("average_cycle_days")]]),
        "automation": _table("Automation health", ["jobs_succeeded", "jobs_failed", "escalations", "sla_breaches"],
                             [[health["succeeded"], health["failed"], health["escalations"], health["breaches"]]]),
    }
    charts_ = {
        "funnel": charts.funnel_chart("Funnel with drop-off", data["steps"]),
        "win_rate": charts.hbar("Win rate by source (%)", [
            (r["source"] or "(none)", round(r["win_rate"] * 100, 1) if r["win_rate"] is not None else 0)
            for r in pipe.get("win_rate_by_source", [])], unit=" %"),
        "coverage": charts.hbar("Pipeline vs quota", [("Open pipeline", Decimal(pipe.get("pipeline_value") or 0)),
                                                      ("Quota", quota or 0)]),
    }
    kpis = [("Win rate", _pct(f["win_rate"])), ("Deal win rate (closed)", _pct(pipe.get("win_rate"))),
            ("Velocity / day", pipe.get("velocity_per_day") or "—"),
            ("Coverage", f"{pipe['coverage']}x" if pipe.get("coverage") is not None else "enter a quota"),
            ("Jobs failed", health["failed"]), ("Escalations", health["escalations"])]
    return _respond(request, "executive", form, start, end, tables, charts_, {"kpis": kpis})
