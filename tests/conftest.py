import importlib

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from tests import factories

# Data migrations that create the reference data `migrate` must yield (all idempotent).
REFERENCE_DATA = [
    ("leads.migrations.0002_reason_codes", "create_codes"),
    ("scoring.migrations.0002_presets", "add_presets"),
    ("pipeline.migrations.0003_default_config_and_groups", "forwards"),
    ("routing.migrations.0003_default_routing_and_sla", "create_defaults"),
    ("routing.migrations.0005_default_sql_sla", "create_default"),
]


def ensure_reference_data():
    """Re-create reference data a transactional test's flush may have removed."""
    for module, function in REFERENCE_DATA:
        getattr(importlib.import_module(module), function)(django_apps, None)


@pytest.fixture(autouse=True)
def _reference_data_for_transactional_tests(request):
    """Transactional tests run after a flush: give them the reference data `migrate` creates, committed,
    so that other threads and processes (concurrency tests, the live server) see it too."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        ensure_reference_data()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def admin_user(db):
    return factories.UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def as_user(user):
    client = APIClient()
    client.force_authenticate(user)
    return client
