"""The routing decision tree and the round-robin choice as pure functions (no database access).

Services gather the facts (lead, account, open deal, events, territories, rep availability),
the engine walks the configured steps most-specific-first and says who should get the lead
and why every earlier step did not match. Round-robin pools are only *named* here; the
service picks the rep under a lock with ``pick_round_robin``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RepFacts:
    rep_id: int
    team_id: int | None
    role: str
    available: bool  # active, not on PTO, below capacity
    backup_id: int | None = None
    why_unavailable: str = ""


@dataclass(frozen=True)
class TerritoryFacts:
    id: int
    name: str
    priority: int
    countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    min_employees: int | None = None
    max_employees: int | None = None
    industries: tuple[str, ...] = ()
    team_id: int | None = None
    owner_id: int | None = None


@dataclass(frozen=True)
class StepFacts:
    id: int | None
    name: str
    kind: str
    conditions: dict = field(default_factory=dict)
    team_id: int | None = None
    role: str = ""
    policy_id: int | None = None


@dataclass(frozen=True)
class LeadFacts:
    lead_id: int | None
    segment: str = "default"
    abm_tier: int = 0
    account_owner_id: int | None = None
    open_deal_owner_id: int | None = None
    employees: int | None = None
    industry: str = ""
    country: str = ""
    state: str = ""
    event_types: frozenset[str] = frozenset()
    trigger: str = ""


@dataclass
class Decision:
    """Outcome of one walk: a rep, a round-robin pool to draw from, or a team queue."""

    outcome: str  # "rep" | "pool" | "queue"
    step: StepFacts
    step_index: int
    reason: str
    skipped: list[dict]
    rep_id: int | None = None
    team_id: int | None = None
    pool_team_ids: tuple[int, ...] | None = None  # None = every team
    pool_role: str = ""
    territory_id: int | None = None
    pool_roles: tuple[str, ...] = ()  # several roles (the SDR -> AE handoff); empty = ``pool_role`` alone


def _norm(value) -> str:
    return str(value or "").strip().lower()


def territory_matches(territory: TerritoryFacts, lead: LeadFacts) -> bool:
    """An empty list or a null bound matches everything (API.md)."""
    if territory.countries and _norm(lead.country) not in {_norm(c) for c in territory.countries}:
        return False
    if territory.states and _norm(lead.state) not in {_norm(s) for s in territory.states}:
        return False
    if territory.industries and _norm(lead.industry) not in {_norm(i) for i in territory.industries}:
        return False
    if territory.min_employees is not None and (lead.employees is None or lead.employees < territory.min_employees):
        return False
    if territory.max_employees is not None and (lead.employees is None or lead.employees > territory.max_employees):
        return False
    return True


def _rep_or_backup(owner_id: int, reps: dict[int, RepFacts], label: str) -> tuple[int | None, str]:
    owner = reps.get(owner_id)
    if owner is not None and owner.available:
        return owner_id, f"{label} {owner_id} is available"
    why = owner.why_unavailable if owner else "has no sales profile"
    backup = reps.get(owner.backup_id) if owner and owner.backup_id else None
    if backup is not None and backup.available:
        return backup.rep_id, f"{label} {owner_id} {why}; their backup {backup.rep_id} takes it"
    return None, f"{label} {owner_id} {why} and no available backup"


def _within_roles(decision: Decision, reps: dict[int, RepFacts], allowed_roles: frozenset[str] | None,
                  skip) -> Decision | None:
    """Keep a decision inside ``allowed_roles`` (the accept-time SDR -> AE handoff), or skip its step.

    A named rep of another role is refused (a territory then draws from its team instead); a pool
    step keeps its own role when allowed, and an unrestricted pool is narrowed to the allowed roles.
    """
    if not allowed_roles or decision.outcome == "queue":
        return decision
    if decision.outcome == "rep":
        role = reps[decision.rep_id].role if decision.rep_id in reps else ""
        if role in allowed_roles:
            return decision
        why = (f"{decision.reason}, but rep {decision.rep_id} has role {role or 'none'}, "
               f"not one of {', '.join(sorted(allowed_roles))}")
        if decision.territory_id is None or decision.team_id is None:
            skip(why)
            return None
        decision = Decision("pool", decision.step, decision.step_index, f"{why}: round-robin in the territory's "
                            "team", decision.skipped, pool_team_ids=(decision.team_id,),
                            pool_role=decision.step.role, team_id=decision.team_id,
                            territory_id=decision.territory_id)
    roles = _pool_roles(decision.pool_role, allowed_roles)
    if not roles:
        skip(f"{decision.reason}, but the step draws role {decision.pool_role}, not one of "
             f"{', '.join(sorted(allowed_roles))}")
        return None
    decision.pool_role, decision.pool_roles = "", roles
    return decision


def _pool_roles(step_role: str, allowed_roles: frozenset[str]) -> tuple[str, ...]:
    if step_role:
        return (step_role,) if step_role in allowed_roles else ()
    return tuple(sorted(allowed_roles))


def route(*, lead: LeadFacts, steps: list[StepFacts], reps: dict[int, RepFacts],
          territories: list[TerritoryFacts], start_index: int = 0,
          skipped: list[dict] | None = None, allowed_roles: frozenset[str] | None = None) -> Decision | None:
    """Walk ``steps`` (already ordered) from ``start_index``; the first that matches decides.

    ``skipped`` accumulates ``{"rule", "why"}`` for each step that did not match. Returns None
    only when no step (not even a fallback) is configured to catch the lead. ``allowed_roles``
    restricts every rep the tree names or draws to those roles (the SDR -> AE handoff).
    """
    skipped = list(skipped or [])
    for index in range(start_index, len(steps)):
        step = steps[index]
        decision = _match(step, index, lead=lead, reps=reps, territories=territories, skipped=skipped)
        if decision is None:
            continue

        def skip(why: str, _step=step):
            skipped.append({"rule": _step.name, "why": why})

        decision = _within_roles(decision, reps, allowed_roles, skip)
        if decision is not None:
            return decision
    return None


def _match(step: StepFacts, index: int, *, lead: LeadFacts, reps: dict[int, RepFacts],
           territories: list[TerritoryFacts], skipped: list[dict]) -> Decision | None:
    """One step: its decision, or None after recording in ``skipped`` why it did not match."""
    kind, cond = step.kind, step.conditions or {}

    def skip(why: str) -> None:
        skipped.append({"rule": step.name, "why": why})

    if kind == "named_account":
        tiers = cond.get("abm_tiers") or []
        if tiers and lead.abm_tier not in tiers and lead.open_deal_owner_id is None:
            skip(f"account ABM tier {lead.abm_tier} is not one of {tiers}")
            return None
        owner_id = lead.account_owner_id or lead.open_deal_owner_id
        if owner_id is None:
            skip("the account has no owner and no open deal")
            return None
        label = "account owner" if lead.account_owner_id else "open deal owner"
        rep_id, why = _rep_or_backup(owner_id, reps, label)
        if rep_id is None:
            skip(why)
            return None
        return Decision("rep", step, index, why, skipped, rep_id=rep_id, team_id=reps[rep_id].team_id)

    if kind == "enterprise":
        minimum = cond.get("min_employees")
        industries = {_norm(i) for i in cond.get("industries") or []}
        if minimum is not None and (lead.employees is None or lead.employees < minimum):
            skip(f"company size {lead.employees} is below {minimum}")
            return None
        if industries and _norm(lead.industry) not in industries:
            skip(f"industry {lead.industry or 'unknown'!r} is not an enterprise industry")
            return None
        return Decision("pool", step, index, f"company size {lead.employees} and industry "
                        f"{lead.industry or 'any'!r} suggest a large ACV", skipped,
                        pool_team_ids=(step.team_id,) if step.team_id else None, pool_role=step.role,
                        team_id=step.team_id)

    if kind == "plg":
        groups = cond.get("event_groups") or [["team_member_invited"]]
        segments = {_norm(s) for s in cond.get("segments") or []}
        if segments and _norm(lead.segment) not in segments:
            skip(f"segment {lead.segment!r} is not a PLG segment")
            return None
        missing = [group for group in groups if not lead.event_types.intersection(group)]
        if missing:
            skip(f"no {' / '.join(missing[0])} event (team usage)")
            return None
        return Decision("pool", step, index, "product signup with team usage", skipped,
                        pool_team_ids=(step.team_id,) if step.team_id else None, pool_role=step.role,
                        team_id=step.team_id)

    if kind == "territory":
        matching = [t for t in territories if territory_matches(t, lead)]
        if not matching:
            skip("no territory matches the lead's country, state, size and industry")
            return None
        best = sorted(matching, key=lambda t: (-t.priority, t.id))[0]
        if best.owner_id is not None:
            owner = reps.get(best.owner_id)
            if owner is not None and owner.available:
                return Decision("rep", step, index, f"territory {best.name!r} (priority {best.priority}) "
                                "owner is available", skipped, rep_id=best.owner_id,
                                team_id=best.team_id or owner.team_id, territory_id=best.id)
        if best.team_id is None:
            skip(f"territory {best.name!r} owner unavailable and it names no team")
            return None
        return Decision("pool", step, index, f"territory {best.name!r} (priority {best.priority}): "
                        "round-robin in its team", skipped, pool_team_ids=(best.team_id,),
                        pool_role=step.role, team_id=best.team_id, territory_id=best.id)

    if kind == "round_robin":
        return Decision("pool", step, index, "round-robin across the eligible pool", skipped,
                        pool_team_ids=(step.team_id,) if step.team_id else None, pool_role=step.role,
                        team_id=step.team_id)

    if kind == "fallback":
        return Decision("queue", step, index, "no rep available: team queue", skipped, team_id=step.team_id)

    skip(f"unknown step kind {kind!r}")  # pragma: no cover - choices are validated
    return None


@dataclass(frozen=True)
class Candidate:
    rep_id: int
    assignments_in_period: int
    below_quota: bool
    last_assigned_at: dt.datetime | None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def round_robin_key(candidate: Candidate, *, quota_bonus: float = 0.5):
    """Fewest assignments in the period; below quota counts ``quota_bonus`` fewer (a slight priority,
    < 1 so it only breaks ties and never unbalances); then longest since the last assignment; then id."""
    load = candidate.assignments_in_period - (quota_bonus if candidate.below_quota else 0)
    return (load, candidate.last_assigned_at or _EPOCH, candidate.rep_id)


def pick_round_robin(candidates: list[Candidate], *, quota_bonus: float = 0.5) -> Candidate | None:
    if not candidates:
        return None
    return min(candidates, key=lambda c: round_robin_key(c, quota_bonus=quota_bonus))


def period_start(now: dt.datetime, period: str = "week") -> dt.datetime:
    """Start (UTC) of the round-robin counting period containing ``now``: day, ISO week or month."""
    now = now.astimezone(dt.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight
    if period == "month":
        return midnight.replace(day=1)
    return midnight - dt.timedelta(days=midnight.weekday())
