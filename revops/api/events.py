"""API endpoints for events (see docs/architecture.md)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []


def register(router):
    """Add viewsets to the /api/v1/ router."""
