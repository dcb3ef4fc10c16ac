"""Property tests of the pure scoring function (hypothesis)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import engine
from scoring.validation import rule_errors

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TYPES = ["pricing_page_view", "email_click", "demo_request", "unsubscribe", "blog_visit"]

event_rule = st.builds(
    lambda kind, event, points, min_count, window, decay: {
        "kind": kind, "event": event, "points": points if kind == "engagement" else -max(points, 1),
        **({"min_count": min_count} if min_count else {}),
        **({"window_days": window} if min_count and window else {}),
        **({"decay_points": decay[0], "decay_days": decay[1]} if decay else {}),
    },
    st.sampled_from(["engagement", "negative"]), st.sampled_from(TYPES), st.integers(0, 40),
    st.none() | st.integers(1, 4), st.none() | st.integers(1, 30),
    st.none() | st.tuples(st.integers(1, 10), st.integers(1, 14)),
)
field_rule = st.builds(
    lambda kind, field_op, points: {"kind": kind, **field_op,
                                    "points": points if kind == "fit" else -max(points, 1)},
    st.sampled_from(["fit", "negative"]),
    st.sampled_from([
        {"field": "company.employees", "op": "between", "value": [10, 500]},
        {"field": "company.employees", "op": "gte", "value": 100},
        {"field": "title_level", "op": "in", "value": ["vp", "director"]},
        {"field": "title_level", "op": "eq", "value": "vp"},
        {"field": "email_domain_kind", "op": "eq", "value": "personal"},
        {"field": "company.industry", "op": "contains", "value": "soft"},
    ]),
    st.integers(0, 30),
)
models = st.builds(
    lambda rules, cooldown, threshold: {"rules": rules, "cooldown_minutes": cooldown, "mql_threshold": threshold,
                                        "min_fit": 0, "min_engagement": 0, "fast_track_events": ["demo_request"]},
    st.lists(event_rule | field_rule, max_size=8), st.sampled_from([0, 30, 120]), st.integers(0, 80),
)
events = st.lists(
    st.tuples(st.sampled_from(TYPES), st.integers(0, 60 * 24 * 60), st.sampled_from([None, "/a", "/b"])),
    max_size=25,
).map(lambda items: [(t, T0 + timedelta(minutes=m), {"url": u} if u else {}, i)
                     for i, (t, m, u) in enumerate(items)])
leads = st.fixed_dictionaries({
    "email": st.sampled_from(["a@acme.io", "b@gmail.com", "c@uni.edu"]),
    "title": st.sampled_from(["", "VP Sales", "Director of IT", "Intern", "Engineer"]),
})
accounts = st.fixed_dictionaries({"employees": st.none() | st.integers(1, 5000),
                                  "industry": st.sampled_from(["", "software", "retail"])})
ats = st.integers(0, 90 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(models, leads, accounts, events, ats)
def test_generated_models_are_valid_and_breakdown_sums_to_the_score(model, lead, account, evs, at):
    assert [e for i, r in enumerate(model["rules"]) for e in rule_errors(r, i)] == []
    result = engine.score(model, lead, account, evs, at)
    assert sum(item["points"] for item in result.breakdown) == result.total
    assert sum(i["points"] for i in result.breakdown if "field" in model["rules"][i["rule_index"]]) == result.fit


@settings(max_examples=200, deadline=None)
@given(models, leads, accounts, events, ats, st.randoms(use_true_random=False))
def test_arrival_order_does_not_change_the_score(model, lead, account, evs, at, rnd):
    shuffled = list(evs)
    rnd.shuffle(shuffled)
    first = engine.score(model, lead, account, evs, at)
    second = engine.score(model, lead, account, shuffled, at)
    assert (first.fit, first.engagement, first.breakdown, first.qualifies) == (
        second.fit, second.engagement, second.breakdown, second.qualifies)


@settings(max_examples=100, deadline=None)
@given(models, leads, accounts, events, ats)
def test_scoring_is_deterministic(model, lead, account, evs, at):
    assert engine.score(model, lead, account, evs, at) == engine.score(model, lead, account, list(evs), at)


@settings(max_examples=200, deadline=None)
@given(models, leads, accounts, events, ats)
def test_events_outside_the_type_horizons_change_nothing(model, lead, account, evs, at):
    """What the loader reads (bounded per type) scores like the full history, when no cooldown chain
    crosses the horizon (cooldown 0 here)."""
    model = {**model, "cooldown_minutes": 0}
    horizons = engine.type_horizons(model)
    kept = [e for e in evs if e[0] in horizons and (horizons[e[0]] is None
                                                    or e[1] >= at - timedelta(days=horizons[e[0]]))]
    full = engine.score(model, lead, account, evs, at)
    bounded = engine.score(model, lead, account, kept, at)
    assert (full.fit, full.engagement, full.qualifies) == (bounded.fit, bounded.engagement, bounded.qualifies)
