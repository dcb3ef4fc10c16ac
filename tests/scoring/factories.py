"""Scoring test helpers: models built from JSON and activated through the service."""

from revops.flows import scoring as scoring_flow
from scoring import services
from scoring.models import ScoringModel

SIMPLE_RULES = [
    {"kind": "fit", "field": "company.employees", "op": "between", "value": [50, 1000], "points": 15,
     "label": "Company size 50-1000"},
    {"kind": "fit", "field": "title_level", "op": "in", "value": ["manager", "director", "vp"], "points": 15},
    {"kind": "engagement", "event": "pricing_page_view", "points": 15, "decay_points": 5, "decay_days": 7},
    {"kind": "engagement", "event": "email_click", "points": 10, "min_count": 3, "window_days": 30},
    {"kind": "engagement", "event": "demo_request", "points": 30},
    {"kind": "negative", "field": "email_domain_kind", "op": "eq", "value": "personal", "points": -10},
    {"kind": "negative", "event": "unsubscribe", "points": -20},
]


def model_data(**overrides):
    data = {"name": "Test model", "segment": "default", "mql_threshold": 60, "min_fit": 20, "min_engagement": 20,
            "fast_track_events": ["demo_request", "contact_sales"], "cooldown_minutes": 30,
            "rules": SIMPLE_RULES}
    data.update(overrides)
    return data


def active_model(**overrides) -> ScoringModel:
    model = services.scoring_model_create(**model_data(**overrides))
    model, _ = scoring_flow.scoring_model_activate(model=model, note="test")
    return model
