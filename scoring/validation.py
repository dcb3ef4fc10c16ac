"""Strict validation of a scoring model's JSON (rules, fast-track events, setting lists)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from leads.models import EngagementEvent

from .engine import FIELD_NAMES, NUMERIC_FIELDS, OPERATORS, SETTING_LISTS

EVENT_TYPES = frozenset(EngagementEvent.Type.values)
KINDS = ("fit", "engagement", "negative")
FIELD_RULE_KEYS = {"kind", "field", "op", "value", "points", "label"}
EVENT_RULE_KEYS = {"kind", "event", "points", "label", "min_count", "window_days", "decay_points", "decay_days",
                   "max_count"}
INACTIVITY_RULE_KEYS = {"kind", "inactive_days", "points", "label"}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, int | float)) and not isinstance(value, bool)


def _check_value(rule: dict, where: str) -> list[str]:
    op, value, name = rule["op"], rule["value"], rule["field"]
    if isinstance(value, dict):
        if set(value) != {"setting"} or value["setting"] not in SETTING_LISTS:
            return [f"{where}: value may refer to a setting as {{\"setting\": one of {list(SETTING_LISTS)}}}."]
        if op not in ("in",):
            return [f"{where}: a setting list can only be used with op 'in'."]
        return []
    if op == "between":
        if (not isinstance(value, list) or len(value) != 2
                or not all(v is None or _is_number(v) for v in value) or value == [None, None]):
            return [f"{where}: 'between' needs [low, high] numbers (one may be null)."]
        if None not in value and value[0] > value[1]:
            return [f"{where}: 'between' needs low <= high."]
    elif op in ("gte", "lte"):
        if not _is_number(value):
            return [f"{where}: '{op}' needs a number."]
    elif op == "in":
        if not isinstance(value, list) or not value or not all(isinstance(v, str | int | float) for v in value):
            return [f"{where}: 'in' needs a non-empty list of values."]
    elif op == "contains":
        if not isinstance(value, str) or not value:
            return [f"{where}: 'contains' needs a non-empty string."]
    elif op == "eq":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return [f"{where}: 'eq' needs a string or a number."]
    if name in NUMERIC_FIELDS and op in ("contains",):
        return [f"{where}: '{op}' does not apply to the number field {name}."]
    if name not in NUMERIC_FIELDS and op in ("between", "gte", "lte"):
        return [f"{where}: '{op}' applies only to {sorted(NUMERIC_FIELDS)}."]
    return []


def rule_errors(rule, index: int) -> list[str]:
    where = f"rule {index}"
    if not isinstance(rule, dict):
        return [f"{where}: must be an object."]
    kind = rule.get("kind")
    if kind not in KINDS:
        return [f"{where}: kind must be one of {list(KINDS)}."]
    points = rule.get("points")
    if not _is_int(points):
        return [f"{where}: points must be an integer."]
    errors: list[str] = []
    if kind == "negative" and points >= 0:
        errors.append(f"{where}: a negative rule needs points < 0.")
    if kind != "negative" and points < 0:
        errors.append(f"{where}: a {kind} rule needs points >= 0 (use kind 'negative').")
    if "label" in rule and not isinstance(rule["label"], str):
        errors.append(f"{where}: label must be a string.")
    if "field" in rule:
        unknown = set(rule) - FIELD_RULE_KEYS
        if unknown:
            errors.append(f"{where}: unknown keys {sorted(unknown)} for a field rule.")
        if kind == "engagement":
            errors.append(f"{where}: an engagement rule tests an event, not a field.")
        if rule["field"] not in FIELD_NAMES:
            errors.append(f"{where}: field must be one of {list(FIELD_NAMES)}.")
        if rule.get("op") not in OPERATORS:
            errors.append(f"{where}: op must be one of {list(OPERATORS)}.")
        if "value" not in rule:
            errors.append(f"{where}: value is required.")
        if not errors:
            errors += _check_value(rule, where)
    elif "event" in rule:
        unknown = set(rule) - EVENT_RULE_KEYS
        if unknown:
            errors.append(f"{where}: unknown keys {sorted(unknown)} for an event rule.")
        if kind == "fit":
            errors.append(f"{where}: a fit rule tests a field, not an event.")
        if rule["event"] not in EVENT_TYPES:
            errors.append(f"{where}: unknown event type {rule['event']!r}.")
        for key in ("min_count", "window_days", "decay_points", "decay_days", "max_count"):
            if key in rule and rule[key] is not None and (not _is_int(rule[key]) or rule[key] < 1):
                errors.append(f"{where}: {key} must be a positive integer.")
        if rule.get("window_days") and not rule.get("min_count"):
            errors.append(f"{where}: window_days needs min_count.")
        if rule.get("min_count") and rule.get("max_count"):
            errors.append(f"{where}: min_count and max_count cannot be combined.")
        if bool(rule.get("decay_points")) != bool(rule.get("decay_days")):
            errors.append(f"{where}: decay_points and decay_days go together.")
    elif "inactive_days" in rule:
        unknown = set(rule) - INACTIVITY_RULE_KEYS
        if unknown:
            errors.append(f"{where}: unknown keys {sorted(unknown)} for an inactivity rule.")
        if kind != "negative":
            errors.append(f"{where}: an inactivity rule must be negative.")
        if not _is_int(rule["inactive_days"]) or rule["inactive_days"] < 1:
            errors.append(f"{where}: inactive_days must be a positive integer.")
    else:
        errors.append(f"{where}: needs 'field' (with op and value) or 'event'.")
    return errors


def validate_rules(rules) -> None:
    if not isinstance(rules, list):
        raise ValidationError({"rules": ["Must be a list of rules."]})
    errors = [message for index, rule in enumerate(rules) for message in rule_errors(rule, index)]
    if errors:
        raise ValidationError({"rules": errors})


def validate_event_types(values, field: str) -> None:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValidationError({field: ["Must be a list of event types."]})
    unknown = sorted(set(values) - EVENT_TYPES)
    if unknown:
        raise ValidationError({field: [f"Unknown event types: {', '.join(unknown)}."]})


def validate_string_list(values, field: str) -> None:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValidationError({field: ["Must be a list of non-empty strings."]})
