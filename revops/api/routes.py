"""The one router of /api/v1/: each resource registered once; apps add theirs through ``register``."""

from rest_framework.routers import DefaultRouter

import scoring.api
from revops.api import deals, work
from revops.api.leads import LeadViewSet
from routing.api import RepViewSet, TeamViewSet, TerritoryViewSet

router = DefaultRouter()
router.register("leads", LeadViewSet, basename="lead")
router.register("teams", TeamViewSet, basename="team")
router.register("reps", RepViewSet, basename="rep")
router.register("territories", TerritoryViewSet, basename="territory")
for module in (scoring.api, work, deals):
    module.register(router)
