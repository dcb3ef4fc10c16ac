"""Write use-cases for teams, reps and territories (routing decisions come in the routing issue)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .models import Rep, Team, Territory


def _record(instance, *, actor, reason):
    instance._history_user = actor if getattr(actor, "is_authenticated", False) else None
    instance._change_reason = reason


@transaction.atomic
def rep_create(*, username: str, email: str, team: Team | None, role: str, actor=None, password: str | None = None,
               territories=(), **profile) -> Rep:
    """Create the user and its sales profile in one transaction."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": "A user with that username already exists."})
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password or None)
    except IntegrityError as exc:
        raise ValidationError({"username": "A user with that username already exists."}) from exc
    if not password:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if role == Rep.Role.MANAGER:
        # Managers work in the Django admin.
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    rep = Rep(user=user, team=team, role=role, **profile)
    rep.full_clean(exclude=["user"])
    _record(rep, actor=actor, reason="created")
    rep.save()
    if territories:
        rep.territories.set(territories)
    return rep


@transaction.atomic
def rep_update(*, rep: Rep, actor=None, territories=None, email: str | None = None, **changes) -> Rep:
    for field, value in changes.items():
        setattr(rep, field, value)
    rep.full_clean(exclude=["user"])
    _record(rep, actor=actor, reason="updated")
    rep.save()
    if territories is not None:
        rep.territories.set(territories)
    if email is not None and email != rep.user.email:
        rep.user.email = email
        rep.user.save(update_fields=["email"])
    return rep


@transaction.atomic
def team_create(*, actor=None, **fields) -> Team:
    team = Team(**fields)
    team.full_clean()
    _record(team, actor=actor, reason="created")
    team.save()
    return team


@transaction.atomic
def territory_create(*, actor=None, **fields) -> Territory:
    territory = Territory(**fields)
    territory.full_clean()
    _record(territory, actor=actor, reason="created")
    territory.save()
    return territory
