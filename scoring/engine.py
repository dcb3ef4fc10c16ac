"""The score of a lead at time T: a pure, deterministic function (SPEC §4, API.md "Scoring models").

No database access here. ``score(model, lead, account, events, at)`` takes plain dicts and
tuples and returns a :class:`ScoreResult` whose breakdown sums exactly to the score.

Semantics (API.md, exact):

* Field rules (``fit`` and ``negative`` rules with a ``field``) make the fit score. Among the
  rules on one field, in list order, only the first that matches counts.
* Event rules (``engagement`` and ``negative`` rules with an ``event``) make the engagement
  score. Events after ``at`` and before the lead's ``engagement_reset_at`` are ignored.
* Cooldown: events of one type (and one ``properties.url`` when given) that occur less than
  ``cooldown_minutes`` after a *counted* one are not counted (greedy scan in time order).
* A rule without ``min_count`` pays per counted event; with ``min_count`` it pays once, when
  ``min_count`` counted events fall within any span of ``window_days`` (inclusive); the decay of
  that payment runs from the event that first completed the count.
* Decay: ``max(0, points - decay_points * floor(age_days / decay_days))`` with fractional
  ``age_days``. A negative rule decays toward zero the same way (its magnitude shrinks).
* ``{"kind": "negative", "inactive_days": N, "points": -p}`` (extension for the seed's "no
  engagement in 30 days"): applies when the last event (or the lead's creation) is N or more
  days before ``at``; it counts toward engagement.
* MQL criteria: fit >= min_fit, engagement >= min_engagement and total >= mql_threshold; or a
  fast-track event (counted or not, cooldown does not matter) with fit >= min_fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from leads.services import PERSONAL_EMAIL_DOMAINS, classify_email_domain
from leads.services import derive_title_level as _derive_title_level

DAY_SECONDS = 86400.0
# A pure function of the title: memoised (titles repeat a lot across leads).
derive_title_level = lru_cache(maxsize=8192)(_derive_title_level)
COMPILED = "_compiled"
# Events that signal disengagement: they never make a lead look "active".
DISENGAGEMENT_TYPES = frozenset({"unsubscribe", "hard_bounce", "spam_complaint"})

FIELD_NAMES = (
    "company.employees", "company.annual_revenue", "company.industry", "company.country", "company.state",
    "company.tech_tags", "title", "title_level", "department", "source", "email_domain_kind",
)
NUMERIC_FIELDS = frozenset({"company.employees", "company.annual_revenue"})
OPERATORS = ("eq", "in", "between", "gte", "lte", "contains")
SETTING_LISTS = (
    "target_industries", "secondary_industries", "target_geographies", "secondary_geographies",
    "target_tools", "competitor_tools", "personal_domains", "education_domains", "competitor_domains",
    "internal_domains",
)


@dataclass
class ScoreResult:
    fit: int
    engagement: int
    breakdown: list[dict[str, Any]]
    criteria_met: bool
    fast_track: bool
    fast_track_events: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.fit + self.engagement

    @property
    def qualifies(self) -> bool:
        return self.criteria_met or self.fast_track


# ---------------------------------------------------------------- helpers


def decayed(points: int, decay_points: int | None, decay_days: float | None, age_days: float) -> int:
    """``max(0, points - decay_points * floor(age_days / decay_days))``; negative points decay toward 0."""
    if not decay_points or not decay_days:
        return points
    steps = math.floor(max(age_days, 0.0) / decay_days)
    magnitude = max(0, abs(points) - decay_points * steps)
    return magnitude if points >= 0 else -magnitude


def rule_label(rule: dict) -> str:
    if rule.get("label"):
        return str(rule["label"])
    if "field" in rule:
        return f"{rule['field']} {rule['op']} {_value_text(rule['value'])}"
    if "event" in rule:
        if rule.get("min_count"):
            window = f" in {rule['window_days']}d" if rule.get("window_days") else ""
            return f"{rule['event']} {rule['min_count']}+{window}"
        return str(rule["event"])
    return f"no engagement in {rule['inactive_days']} days"


def _value_text(value) -> str:
    if isinstance(value, dict) and "setting" in value:
        return value["setting"]
    return str(value)


def _norm(value):
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _resolve(value, settings: dict):
    if isinstance(value, dict) and "setting" in value:
        return list(settings.get(value["setting"]) or [])
    return value


def field_value(name: str, lead: dict, account: dict, model: dict):
    """The value a field rule tests (derived fields are computed here, purely)."""
    if name.startswith("company."):
        return (account or {}).get(name.split(".", 1)[1])
    if name == "title_level":
        title = lead.get("title") or ""
        return derive_title_level(title) if title else (lead.get("title_level") or "")
    if name == "email_domain_kind":
        return email_domain_kind(lead, model)
    return lead.get(name)


def email_domain_kind(lead: dict, model: dict) -> str:
    """Classify the lead's email domain with the model's domain lists (else the stored kind)."""
    email = (lead.get("email") or "").strip().lower()
    if "@" not in email:
        return lead.get("email_domain_kind") or "corporate"
    domain = email.rpartition("@")[2]
    compiled = model.get(COMPILED) or _domain_lists(model)
    if domain in compiled.edu and domain not in compiled.internal and domain not in compiled.competitor:
        return "edu"
    return classify_email_domain(domain, personal=compiled.personal, competitor=compiled.competitor,
                                 internal=compiled.internal)


def matches(rule: dict, actual, settings: dict) -> bool:
    op, expected = rule["op"], _resolve(rule["value"], settings)
    if actual is None or actual == "":
        return False
    if isinstance(actual, list | tuple | set):  # e.g. company.tech_tags: any element matching
        return any(matches(rule, item, settings) for item in actual)
    actual = _norm(actual)
    if op == "eq":
        return actual == _norm(expected)
    if op == "in":
        return actual in {_norm(v) for v in expected}
    if op == "contains":
        return isinstance(actual, str) and _norm(str(expected)) in actual
    try:
        number = float(actual)
    except (TypeError, ValueError):
        return False
    if op == "between":
        low, high = expected
        return (low is None or number >= float(low)) and (high is None or number <= float(high))
    if op == "gte":
        return number >= float(expected)
    if op == "lte":
        return number <= float(expected)
    return False


def event_group_key(event_type: str, properties: dict | None):
    url = (properties or {}).get("url") if isinstance(properties, dict) else None
    return (event_type, url if isinstance(url, str) else None)


def counted_events(events: list[tuple], cooldown_minutes: int) -> list[tuple]:
    """Events that count after the cooldown (greedy per type + url, in time order)."""
    cooldown = max(0, cooldown_minutes or 0) * 60.0
    last_counted: dict = {}
    kept = []
    for ev in events:
        key = event_group_key(ev[1], ev[3])
        previous = last_counted.get(key)
        if previous is not None and (ev[2] - previous).total_seconds() < cooldown:
            continue
        last_counted[key] = ev[2]
        kept.append(ev)
    return kept


def _prepare_events(events, at: datetime, reset_at: datetime | None) -> list[tuple]:
    """Normalise to (ref, type, occurred_at, properties) sorted by time then ref; drop out-of-range ones."""
    prepared = []
    for index, ev in enumerate(events):
        event_type, occurred_at, properties = ev[0], ev[1], ev[2] if len(ev) > 2 else {}
        ref = ev[3] if len(ev) > 3 else index
        if occurred_at > at or (reset_at is not None and occurred_at < reset_at):
            continue
        prepared.append((ref, event_type, occurred_at, properties or {}))
    if len({type(e[0]) for e in prepared}) <= 1:  # the usual case: every ref an id (or every one an index)
        prepared.sort(key=lambda e: (e[2], e[0]))
    else:
        prepared.sort(key=lambda e: (e[2], str(type(e[0])), e[0]))
    return prepared


def _age_days(at: datetime, occurred_at: datetime) -> float:
    return (at - occurred_at).total_seconds() / DAY_SECONDS


def _points_text(points: int) -> str:
    return f"{points:+d}"


# ---------------------------------------------------------------- compiled models


@dataclass(frozen=True)
class _DomainLists:
    edu: frozenset
    personal: frozenset
    competitor: frozenset
    internal: frozenset


@dataclass(frozen=True)
class _Compiled(_DomainLists):
    """What ``score`` derives from a model once instead of once per lead (same results)."""

    rules: tuple  # (index, rule, "field"|"event"|"inactive", label, field name, matcher)
    cooldown_minutes: int
    fast_types: frozenset
    min_fit: int
    min_engagement: int
    mql_threshold: int


def _domain_lists(model: dict) -> _DomainLists:
    settings = model.get("settings") or {}
    return _DomainLists(
        edu=frozenset(settings.get("education_domains") or ()),
        personal=frozenset(settings.get("personal_domains") or ()) or PERSONAL_EMAIL_DOMAINS,
        competitor=frozenset(settings.get("competitor_domains") or ()),
        internal=frozenset(settings.get("internal_domains") or ()),
    )


def compile_model(model: dict) -> dict:
    """The model with its per-model work done once (rule labels, resolved setting lists, domain sets).

    Returns a copy carrying the compiled form under ``COMPILED``; ``score`` accepts either. Callers
    that score many leads with one model (the set-based paths) compile it once.
    """
    if model.get(COMPILED) is not None:
        return model
    return {**model, COMPILED: _compile(model)}


def _compile(model: dict) -> _Compiled:
    settings = model.get("settings") or {}
    rules = []
    for index, rule in enumerate(model.get("rules") or []):
        if "field" in rule:
            rules.append((index, rule, "field", rule_label(rule), rule["field"], _matcher(rule, settings)))
        elif "event" in rule:
            rules.append((index, rule, "event", rule_label(rule), rule["event"], None))
        elif "inactive_days" in rule:
            rules.append((index, rule, "inactive", None, None, None))
    return _Compiled(
        **vars(_domain_lists(model)), rules=tuple(rules), cooldown_minutes=int(model.get("cooldown_minutes") or 0),
        fast_types=frozenset(model.get("fast_track_events") or ()), min_fit=int(model.get("min_fit") or 0),
        min_engagement=int(model.get("min_engagement") or 0), mql_threshold=int(model.get("mql_threshold") or 0))


def _matcher(rule: dict, settings: dict):
    """``matches(rule, actual, settings)`` with the expected value resolved and normalised once."""
    op, expected = rule["op"], _resolve(rule["value"], settings)

    def generic(actual):
        return matches(rule, actual, settings)

    try:
        if op == "eq":
            wanted = _norm(expected)
            test = lambda actual: actual == wanted  # noqa: E731
        elif op == "in":
            wanted_set = {_norm(v) for v in expected}
            test = lambda actual: actual in wanted_set  # noqa: E731
        elif op == "contains":
            needle = _norm(str(expected))
            test = lambda actual: isinstance(actual, str) and needle in actual  # noqa: E731
        else:
            return generic
    except TypeError:  # an unhashable expected value: the generic path decides as before
        return generic

    def fast(actual):
        if actual is None or actual == "":
            return False
        if isinstance(actual, list | tuple | set):
            return generic(actual)
        return test(_norm(actual))

    return fast


# ---------------------------------------------------------------- the function


def score(model: dict, lead: dict, account: dict | None, events: list[tuple], at: datetime) -> ScoreResult:
    """Score one lead at ``at``.

    ``model``: the scoring model JSON (rules, thresholds, cooldown, fast-track, settings), or the
    result of ``compile_model``. ``lead``: email, title, title_level, department, source,
    email_domain_kind, engagement_reset_at, created_at. ``account``: employees, annual_revenue,
    industry, country, state, tech_tags. ``events``: ``(type, occurred_at, properties[, id])``; the
    breakdown refers to events by id (or by index when no id is given).
    """
    compiled = model.get(COMPILED) or _compile(model)
    prepared = _prepare_events(events, at, lead.get("engagement_reset_at"))
    counted = counted_events(prepared, compiled.cooldown_minutes)
    by_type: dict[str, list[tuple]] = {}
    for ev in counted:
        by_type.setdefault(ev[1], []).append(ev)

    breakdown: list[dict[str, Any]] = []
    fit = engagement = 0
    matched_fields: set[str] = set()
    account = account or {}

    for index, rule, tag, label, name, matcher in compiled.rules:
        if tag == "field":
            if name in matched_fields:
                continue
            actual = field_value(name, lead, account, model)
            if not matcher(actual):
                continue
            matched_fields.add(name)
            points = int(rule["points"])
            fit += points
            breakdown.append({
                "rule": label, "kind": rule["kind"], "rule_index": index, "points": points,
                "reason": f"{name} is {_value_text(actual)}: {_points_text(points)}", "events": [],
            })
        elif tag == "event":
            typed = by_type.get(name)
            if not typed:  # no counted event of this type: the rule pays nothing
                continue
            entry = _event_rule(rule, index, typed, at, label)
            if entry is not None:
                engagement += entry["points"]
                breakdown.append(entry)
        else:
            entry = _inactivity_rule(rule, index, prepared, lead.get("created_at"), at)
            if entry is not None:
                engagement += entry["points"]
                breakdown.append(entry)

    min_fit = compiled.min_fit
    criteria_met = (
        fit >= min_fit
        and engagement >= compiled.min_engagement
        and fit + engagement >= compiled.mql_threshold
    )
    fast_types = compiled.fast_types
    fast_refs = [ev[0] for ev in prepared if ev[1] in fast_types] if fast_types else []
    return ScoreResult(
        fit=fit, engagement=engagement, breakdown=breakdown, criteria_met=criteria_met,
        fast_track=bool(fast_refs) and fit >= min_fit, fast_track_events=fast_refs,
    )


def _event_rule(rule: dict, index: int, events: list[tuple], at: datetime, label: str | None = None) -> dict | None:
    base = int(rule["points"])
    decay_points, decay_days = rule.get("decay_points"), rule.get("decay_days")
    label = label if label is not None else rule_label(rule)
    min_count = rule.get("min_count")
    if min_count:
        completed = _first_completion(events, int(min_count), rule.get("window_days"))
        if completed is None:
            return None
        last = completed[-1]
        age = _age_days(at, last[2])
        points = decayed(base, decay_points, decay_days, age)
        if points == 0:
            return None
        window = f" within {rule['window_days']} days" if rule.get("window_days") else ""
        reason = (f"{len(completed)} x {rule['event']}{window}, completed {last[2]:%Y-%m-%d %H:%M}"
                  f"{_decay_text(base, points, age)}: {_points_text(points)}")
        return {"rule": label, "kind": rule["kind"], "rule_index": index, "points": points, "reason": reason,
                "events": [ev[0] for ev in completed]}
    max_count = rule.get("max_count")
    paying = events[: int(max_count)] if max_count else events
    total, refs, parts = 0, [], []
    for ev in paying:
        age = _age_days(at, ev[2])
        points = decayed(base, decay_points, decay_days, age)
        if points == 0:
            continue
        total += points
        refs.append(ev[0])
        parts.append(f"{ev[2]:%Y-%m-%d} {_points_text(points)}")
    if not refs:
        return None
    reason = f"{len(refs)} x {rule['event']} ({', '.join(parts)}): {_points_text(total)}"
    return {"rule": label, "kind": rule["kind"], "rule_index": index, "points": total, "reason": reason,
            "events": refs}


def _decay_text(base: int, points: int, age: float) -> str:
    return f", decayed from {base} after {age:.1f} days" if points != base else ""


def _first_completion(events: list[tuple], min_count: int, window_days) -> list[tuple] | None:
    """The first ``min_count`` counted events within ``window_days`` (inclusive span), in time order."""
    if len(events) < min_count:
        return None
    if not window_days:
        return events[:min_count]
    window = float(window_days) * DAY_SECONDS
    for end in range(min_count - 1, len(events)):
        start = end - min_count + 1
        if (events[end][2] - events[start][2]).total_seconds() <= window:
            return events[start : end + 1]
    return None


def _inactivity_rule(rule: dict, index: int, events: list[tuple], created_at, at: datetime) -> dict | None:
    engaged = [ev[2] for ev in events if ev[1] not in DISENGAGEMENT_TYPES]
    times = [t for t in [*engaged, created_at] if t is not None and t <= at]
    if not times:
        return None
    last = max(times)
    days = int(rule["inactive_days"])
    if _age_days(at, last) < days:
        return None
    points = int(rule["points"])
    return {"rule": rule_label(rule), "kind": rule["kind"], "rule_index": index, "points": points,
            "reason": f"no engagement since {last:%Y-%m-%d} ({days}+ days): {_points_text(points)}",
            "events": []}


# ---------------------------------------------------------------- horizons (for loaders)


def event_types(model: dict) -> set[str]:
    """Event types that can change this model's score or fast-track (other types are never read)."""
    types = {r["event"] for r in model.get("rules") or () if "event" in r}
    return types | set(model.get("fast_track_events") or ())


def type_horizons(model: dict) -> dict[str, float | None]:
    """Days of history per event type that can still count at any T (None = all of it).

    A per-event rule with decay pays nothing once ``ceil(|points| / decay_points) * decay_days``
    have passed; one cooldown is added so the event anchoring a cooldown is still seen.
    A ``min_count`` rule, a non-decaying rule and fast-track types need all (post-reset) history.
    """
    cooldown_days = float(model.get("cooldown_minutes") or 0) / 1440.0
    horizons: dict[str, float | None] = {}

    def widen(event_type: str, days: float | None) -> None:
        if event_type in horizons and horizons[event_type] is None:
            return
        if days is None:
            horizons[event_type] = None
        else:
            horizons[event_type] = max(horizons.get(event_type) or 0.0, days)

    for rule in model.get("rules") or ():
        if "event" not in rule:
            continue
        if rule.get("min_count") or not rule.get("decay_points") or not rule.get("decay_days"):
            widen(rule["event"], None)
            continue
        steps = math.ceil(abs(int(rule["points"])) / int(rule["decay_points"]))
        widen(rule["event"], steps * float(rule["decay_days"]) + cooldown_days)
    for event_type in model.get("fast_track_events") or ():
        widen(event_type, None)
    return horizons


def inactivity_days(model: dict) -> int | None:
    days = [int(r["inactive_days"]) for r in model.get("rules") or () if "inactive_days" in r]
    return max(days) if days else None
