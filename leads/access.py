"""The one place that decides who sees and changes which leads, accounts and deals.

Used by the API, the rep web app and the Django admin. Scopes:

* ``all``  — superusers and RevOps admins (staff without a sales profile);
* ``team`` — a manager: leads owned by their team's reps, their own, and the team queue;
* ``own``  — a rep: leads they own and their team's unowned queue;
* ``none`` — anyone else.

Team membership is read through the reverse relations of ``routing.Rep`` by lookup
name, so this bottom layer imports nothing from the apps above it.
"""

from django.db.models import Q, QuerySet

ALL, TEAM, OWN, NONE = "all", "team", "own", "none"


def rep_of(user):
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.rep
    except Exception:  # noqa: BLE001 - RelatedObjectDoesNotExist for users without a sales profile
        return None


def scope_for(user) -> str:
    if user is None or not user.is_authenticated or not user.is_active:
        return NONE
    rep = rep_of(user)
    if user.is_superuser or (user.is_staff and rep is None):
        return ALL
    if rep is None or not rep.active:
        return NONE
    return TEAM if rep.role == "manager" else OWN


def _team_queue_q(team_id) -> Q:
    """Unowned leads whose current assignment is the team's queue.

    A subquery on the primary key, not a join: OR-ing a join over all of a lead's
    assignments would repeat a lead once per assignment row.
    """
    from .models import Lead

    if team_id is None:
        return Q(pk__in=[])
    queue = Lead.objects.filter(owner__isnull=True, assignments__is_current=True, assignments__team_id=team_id)
    return Q(pk__in=queue.values("pk"))


def visible_leads_q(user) -> Q:
    scope = scope_for(user)
    if scope == ALL:
        return Q()
    if scope == NONE:
        return Q(pk__in=[])
    rep = rep_of(user)
    mine = Q(owner=user) | _team_queue_q(rep.team_id)
    if scope == TEAM and rep.team_id is not None:
        return mine | Q(owner__rep__team_id=rep.team_id)
    return mine


def restrict_leads(queryset: QuerySet, user) -> QuerySet:
    return queryset.filter(visible_leads_q(user))


def restrict_by_owner(queryset: QuerySet, user, owner_field: str = "owner") -> QuerySet:
    """Deals, tasks, accounts: own records, the team's for managers, everything for admins."""
    scope = scope_for(user)
    if scope == ALL:
        return queryset
    if scope == NONE:
        return queryset.none()
    q = Q(**{owner_field: user})
    rep = rep_of(user)
    if scope == TEAM and rep.team_id is not None:
        q |= Q(**{f"{owner_field}__rep__team_id": rep.team_id})
    return queryset.filter(q)


def can_see_lead(user, lead) -> bool:
    from .models import Lead

    scope = scope_for(user)
    if scope == ALL:
        return True
    if scope == NONE:
        return False
    if lead.owner_id == user.pk:
        return True
    return Lead.objects.filter(visible_leads_q(user), pk=lead.pk).exists()


can_change_lead = can_see_lead


def can_configure(user) -> bool:
    """Teams, reps, territories, scoring models: admins and managers."""
    return scope_for(user) in (ALL, TEAM)
