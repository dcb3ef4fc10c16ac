"""Deals API.

The DealViewSet lives in revops/api/deals.py: closing a deal runs the cross-app handoff in
revops.flows.deals, which this app must not import (apps depend downward only).
"""


def register(router):
    """Add this app's viewsets to the /api/v1/ router (deals are registered by revops.api.deals)."""
