from django.urls import path

from revops.api import dashboards, events, metrics, scoring_models, work
from revops.api.auth import TokenView

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    *events.urlpatterns,
    *work.urlpatterns,
    *metrics.urlpatterns,
    *dashboards.urlpatterns,
    *scoring_models.urlpatterns,
]
