"""Metrics endpoints for dashboards (funnel and friends)."""

urlpatterns: list = []
