"""Exact semantics of API.md "Scoring models", on the pure function (no database)."""

from datetime import UTC, datetime, timedelta

import pytest

from scoring import engine

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LEAD = {"email": "ann@acme.io", "title": "VP Sales", "department": "sales", "source": "web"}
ACCOUNT = {"employees": 200, "industry": "software", "country": "US"}


def model(rules, **kw):
    return {"mql_threshold": 60, "min_fit": 20, "min_engagement": 20, "cooldown_minutes": 30,
            "fast_track_events": ["demo_request", "contact_sales"], "rules": rules, **kw}


PRICING = {"kind": "engagement", "event": "pricing_page_view", "points": 15, "decay_points": 5, "decay_days": 7}
CLICKS = {"kind": "engagement", "event": "email_click", "points": 10, "min_count": 3, "window_days": 30}


def ev(event_type, at, url=None, ref=None):
    props = {"url": url} if url else {}
    return (event_type, at, props) if ref is None else (event_type, at, props, ref)


@pytest.mark.parametrize("age, points", [
    (timedelta(0), 15),
    (timedelta(days=6, hours=23, minutes=59, seconds=59), 15),
    (timedelta(days=7), 10),
    (timedelta(days=13, hours=23), 10),
    (timedelta(days=14), 5),
    (timedelta(days=20, hours=23, minutes=59), 5),
    (timedelta(days=21), 0),
    (timedelta(days=400), 0),
])
def test_decay_steps_on_exact_day_boundaries(age, points):
    result = engine.score(model([PRICING]), LEAD, ACCOUNT, [ev("pricing_page_view", T0)], T0 + age)
    assert result.engagement == points
    assert sum(item["points"] for item in result.breakdown) == points


def test_decay_uses_fractional_age_days():
    assert engine.decayed(15, 5, 7, 6.999) == 15
    assert engine.decayed(15, 5, 7, 7.0) == 10
    assert engine.decayed(15, 5, 7, 20.5) == 5
    assert engine.decayed(15, 4, 7, 28.0) == 0  # max(0, 15 - 16)
    assert engine.decayed(-20, 5, 7, 7.0) == -15  # a negative rule decays toward zero
    assert engine.decayed(30, None, None, 999) == 30


def test_per_event_points_each_decayed_from_its_own_event():
    events = [ev("pricing_page_view", T0), ev("pricing_page_view", T0 + timedelta(days=8))]
    result = engine.score(model([PRICING]), LEAD, ACCOUNT, events, T0 + timedelta(days=15))
    # first: 15 days old -> 15 - 5*2 = 5; second: 7 days old -> 10
    assert result.engagement == 15
    assert result.breakdown[0]["events"] == [0, 1]


@pytest.mark.parametrize("offsets_days, expected", [
    ([0, 10, 30], 10),  # span exactly 30 days: inclusive
    ([0, 10, 30.0001], 0),  # just over the window
    ([0, 20, 35, 45], 10),  # [20, 35, 45] fits within 30 days
    ([0, 1], 0),  # fewer than min_count
    ([0, 1, 2, 3, 4, 5, 6], 10),  # pays once, not per event
])
def test_min_count_within_any_span_of_window_days(offsets_days, expected):
    events = [ev("email_click", T0 + timedelta(days=d)) for d in offsets_days]
    result = engine.score(model([CLICKS]), LEAD, ACCOUNT, events, T0 + timedelta(days=60))
    assert result.engagement == expected


def test_min_count_decay_runs_from_the_event_that_completed_the_count():
    rule = {**CLICKS, "decay_points": 5, "decay_days": 7}
    events = [ev("email_click", T0 + timedelta(days=d), ref=f"c{d}") for d in (0, 20, 35, 45)]
    # completed by the click on day 45; at day 52 it is 7 days old -> 10 - 5 = 5
    result = engine.score(model([rule]), LEAD, ACCOUNT, events, T0 + timedelta(days=52))
    assert result.engagement == 5
    assert result.breakdown[0]["events"] == ["c20", "c35", "c45"]
    assert engine.score(model([rule]), LEAD, ACCOUNT, events, T0 + timedelta(days=51, hours=23)).engagement == 10


def test_cooldown_counts_repeats_once_per_type_and_url():
    minutes = [0, 10, 29, 30, 45, 61]
    events = [ev("pricing_page_view", T0 + timedelta(minutes=m)) for m in minutes]
    result = engine.score(model([PRICING]), LEAD, ACCOUNT, events, T0 + timedelta(hours=2))
    # counted: 0 (first), 30 (30 min after a counted one), 61 (31 after 30) -> 3 x 15
    assert result.engagement == 45
    assert result.breakdown[0]["events"] == [0, 3, 5]


def test_cooldown_is_measured_from_the_last_counted_event_not_the_last_seen():
    events = [ev("pricing_page_view", T0 + timedelta(minutes=m)) for m in (0, 20, 40)]
    result = engine.score(model([PRICING]), LEAD, ACCOUNT, events, T0 + timedelta(hours=1))
    assert result.engagement == 30  # 0 and 40 count; 20 falls in the cooldown of 0


def test_cooldown_keeps_different_urls_apart_and_zero_disables_it():
    events = [ev("pricing_page_view", T0, url="/pricing"), ev("pricing_page_view", T0, url="/pricing/enterprise"),
              ev("pricing_page_view", T0 + timedelta(minutes=5), url="/pricing")]
    at = T0 + timedelta(hours=1)
    assert engine.score(model([PRICING]), LEAD, ACCOUNT, events, at).engagement == 30
    assert engine.score(model([PRICING], cooldown_minutes=0), LEAD, ACCOUNT, events, at).engagement == 45


def test_first_matching_rule_per_field_counts_only():
    rules = [
        {"kind": "fit", "field": "title_level", "op": "in", "value": ["vp", "c_suite"], "points": 20},
        {"kind": "fit", "field": "title_level", "op": "eq", "value": "vp", "points": 15},
        {"kind": "fit", "field": "company.employees", "op": "gte", "value": 1000, "points": 25},
        {"kind": "fit", "field": "company.employees", "op": "between", "value": [51, 200], "points": 15},
        {"kind": "fit", "field": "company.employees", "op": "between", "value": [1, 500], "points": 5},
        {"kind": "fit", "field": "company.industry", "op": "in", "value": {"setting": "target_industries"},
         "points": 10},
        {"kind": "fit", "field": "company.country", "op": "eq", "value": "de", "points": 10},
    ]
    result = engine.score(model(rules, settings={"target_industries": ["software"]}), LEAD, ACCOUNT, [],
                          T0)
    assert result.fit == 20 + 15 + 10
    assert [item["rule_index"] for item in result.breakdown] == [0, 3, 5]


def test_operators_between_inclusive_contains_and_missing_values():
    rules = [
        {"kind": "fit", "field": "company.employees", "op": "between", "value": [50, 200], "points": 1},
        {"kind": "fit", "field": "title", "op": "contains", "value": "sales", "points": 2},
        {"kind": "fit", "field": "company.annual_revenue", "op": "gte", "value": 1, "points": 4},
        {"kind": "fit", "field": "company.state", "op": "eq", "value": "CA", "points": 8},
    ]
    result = engine.score(model(rules), LEAD, ACCOUNT, [], T0)  # no revenue, no state: no match
    assert result.fit == 3


def test_negative_rules_field_to_fit_event_to_engagement():
    rules = [
        {"kind": "fit", "field": "title_level", "op": "eq", "value": "vp", "points": 20},
        {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "personal", "points": -10},
        {"kind": "negative", "event": "unsubscribe", "points": -20},
        {"kind": "engagement", "event": "demo_request", "points": 30},
    ]
    lead = {**LEAD, "email": "ann@gmail.com"}
    events = [ev("demo_request", T0), ev("unsubscribe", T0 + timedelta(days=1))]
    result = engine.score(model(rules), lead, ACCOUNT, events, T0 + timedelta(days=2))
    assert (result.fit, result.engagement, result.total) == (10, 10, 20)


def test_domain_lists_of_the_model_classify_the_email():
    rules = [{"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "competitor", "points": -50},
             {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "edu", "points": -30}]
    settings = {"competitor_domains": ["rival.com"], "education_domains": ["school.org"]}
    m = model(rules, settings=settings)
    assert engine.score(m, {"email": "x@rival.com"}, {}, [], T0).fit == -50
    assert engine.score(m, {"email": "x@school.org"}, {}, [], T0).fit == -30
    assert engine.score(m, {"email": "x@uni.edu"}, {}, [], T0).fit == -30
    assert engine.score(m, {"email": "x@acme.io"}, {}, [], T0).fit == 0


def test_events_after_at_and_before_the_reset_are_ignored():
    rule = {"kind": "engagement", "event": "demo_request", "points": 30}
    events = [ev("demo_request", T0), ev("demo_request", T0 + timedelta(days=3))]
    at = T0 + timedelta(days=2)
    assert engine.score(model([rule]), LEAD, ACCOUNT, events, at).engagement == 30
    lead = {**LEAD, "engagement_reset_at": T0 + timedelta(days=1)}
    assert engine.score(model([rule]), lead, ACCOUNT, events, at).engagement == 0
    assert engine.score(model([rule]), lead, ACCOUNT, events, T0 + timedelta(days=4)).engagement == 30


def test_thresholds_need_all_three_criteria():
    rules = [{"kind": "fit", "field": "title_level", "op": "eq", "value": "vp", "points": 20},
             {"kind": "engagement", "event": "webinar_attendance", "points": 20}]
    one = [ev("webinar_attendance", T0)]
    two = [*one, ev("webinar_attendance", T0 + timedelta(hours=1))]
    at = T0 + timedelta(days=1)
    assert not engine.score(model(rules, mql_threshold=61), LEAD, ACCOUNT, two, at).criteria_met  # 60 < 61
    assert engine.score(model(rules, mql_threshold=40), LEAD, ACCOUNT, one, at).criteria_met  # 20/20/40
    assert not engine.score(model(rules, mql_threshold=40, min_fit=21), LEAD, ACCOUNT, two, at).criteria_met
    assert not engine.score(model(rules, mql_threshold=40, min_engagement=41), LEAD, ACCOUNT, two,
                            at).criteria_met


def test_fast_track_needs_min_fit_and_ignores_the_cooldown():
    rules = [{"kind": "fit", "field": "title_level", "op": "eq", "value": "vp", "points": 20},
             {"kind": "engagement", "event": "pricing_page_view", "points": 5},
             {"kind": "engagement", "event": "contact_sales", "points": 0}]
    events = [ev("contact_sales", T0)]
    result = engine.score(model(rules), LEAD, ACCOUNT, events, T0)
    assert (result.total, result.criteria_met, result.fast_track, result.qualifies) == (20, False, True, True)
    low_fit = {**LEAD, "title": "Engineer"}
    assert not engine.score(model(rules), low_fit, ACCOUNT, events, T0).qualifies
    # a fast-track event that falls in the cooldown of an earlier one still triggers
    events = [ev("contact_sales", T0, ref=1), ev("contact_sales", T0 + timedelta(minutes=5), ref=2)]
    result = engine.score(model(rules), LEAD, ACCOUNT, events, T0 + timedelta(minutes=5))
    assert result.fast_track and result.fast_track_events == [1, 2]


def test_inactivity_rule_and_max_count():
    rules = [{"kind": "negative", "inactive_days": 30, "points": -10},
             {"kind": "negative", "event": "hard_bounce", "points": -50, "max_count": 1}]
    events = [ev("hard_bounce", T0), ev("hard_bounce", T0 + timedelta(days=2))]
    lead = {**LEAD, "created_at": T0 - timedelta(days=1)}
    assert engine.score(model(rules), lead, ACCOUNT, events, T0 + timedelta(days=28)).engagement == -50
    assert engine.score(model(rules), lead, ACCOUNT, events, T0 + timedelta(days=29)).engagement == -60


def test_breakdown_has_reasons_and_events_and_sums_to_the_score():
    rules = [{"kind": "fit", "field": "title_level", "op": "eq", "value": "vp", "points": 20, "label": "VP"},
             PRICING, CLICKS]
    events = [ev("pricing_page_view", T0, ref=7)] + [ev("email_click", T0 + timedelta(days=d), ref=10 + d)
                                                      for d in range(3)]
    result = engine.score(model(rules), LEAD, ACCOUNT, events, T0 + timedelta(days=7))
    assert [(b["rule"], b["points"], b["events"]) for b in result.breakdown] == [
        ("VP", 20, []), ("pricing_page_view", 10, [7]), ("email_click 3+ in 30d", 10, [10, 11, 12])]
    assert all(b["reason"] for b in result.breakdown)
    assert sum(b["points"] for b in result.breakdown) == result.total == 40


def test_type_horizons_bound_what_a_loader_must_read():
    m = model([PRICING, CLICKS, {"kind": "engagement", "event": "blog_visit", "points": 2, "decay_points": 1,
                                 "decay_days": 30}], cooldown_minutes=1440)
    horizons = engine.type_horizons(m)
    assert horizons["pricing_page_view"] == 3 * 7 + 1
    assert horizons["blog_visit"] == 2 * 30 + 1
    assert horizons["email_click"] is None and horizons["demo_request"] is None
