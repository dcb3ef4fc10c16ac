"""The one router of /api/v1/: each resource registered once."""

from rest_framework.routers import DefaultRouter

from revops.api.leads import LeadViewSet
from routing.api import RepViewSet, TeamViewSet, TerritoryViewSet

router = DefaultRouter()
router.register("leads", LeadViewSet, basename="lead")
router.register("teams", TeamViewSet, basename="team")
router.register("reps", RepViewSet, basename="rep")
router.register("territories", TerritoryViewSet, basename="territory")
