"""Factories shared by every test package."""

import factory
from django.contrib.auth import get_user_model

from leads.models import Account, Lead
from routing.models import Rep, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pass-word-123")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    timezone = "UTC"


class RepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rep

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Rep.Role.AE
    capacity = 50


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.com")
    employees = 200
    industry = "software"
    country = "US"


class LeadFactory(factory.django.DjangoModelFactory):
    """A lead saved directly at ``lifecycle_stage`` (protected field set on creation only)."""

    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"person{n}@company{n}.com")
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Lee{n}")
    account = factory.SubFactory(AccountFactory)
    lifecycle_stage = Lead.Stage.LEAD
