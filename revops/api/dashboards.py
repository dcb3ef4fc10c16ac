"""Metrics endpoints for dashboards (API.md "Metrics"): funnel, marketing, sales, executive.

``/metrics/speed-to-lead/`` lives in ``revops/api/metrics.py`` (routing issue).

Managers and admins only (403 for reps); each sees the leads and deals of their scope
(``leads.access``). Dates are ``YYYY-MM-DD``, UTC, both ends included; a bad date answers 400
naming ``start`` or ``end``. Definitions: ``revops/metrics.py``.
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from revops import metrics

RANGE_PARAMS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (UTC), included; default 29 days before end"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (UTC), included; default today"),
]
ERRORS = {
    400: OpenApiResponse(description="Bad date: the body names `start` or `end`"),
    401: OpenApiResponse(description="Not authenticated"),
    403: OpenApiResponse(description="Managers and admins only"),
}
_rate = serializers.FloatField(allow_null=True)

FunnelOut = inline_serializer("FunnelMetrics", {
    "leads": serializers.IntegerField(), "mqls": serializers.IntegerField(), "sqls": serializers.IntegerField(),
    "opportunities": serializers.IntegerField(), "won": serializers.IntegerField(),
    "lead_to_mql": _rate, "mql_to_sql": _rate, "sql_to_opportunity": _rate, "win_rate": _rate,
})


class MetricsView(APIView):
    permission_classes = [IsAuthenticated]

    def range(self, request):
        if not metrics.can_read_dashboards(request.user):
            raise PermissionDenied("Dashboards are for managers and admins.")
        return metrics.parse_range(request.query_params.get("start"), request.query_params.get("end"))


class FunnelView(MetricsView):
    @extend_schema(parameters=RANGE_PARAMS, responses={200: FunnelOut, **ERRORS}, tags=["metrics"])
    def get(self, request):
        start, end = self.range(request)
        return Response(metrics.funnel(user=request.user, start=start, end=end))


class MarketingView(MetricsView):
    @extend_schema(parameters=RANGE_PARAMS, responses={200: OpenApiTypes.OBJECT, **ERRORS}, tags=["metrics"])
    def get(self, request):
        start, end = self.range(request)
        return Response(metrics.marketing(user=request.user, start=start, end=end))


class SalesView(MetricsView):
    @extend_schema(parameters=RANGE_PARAMS, responses={200: OpenApiTypes.OBJECT, **ERRORS}, tags=["metrics"])
    def get(self, request):
        start, end = self.range(request)
        data = metrics.sales(user=request.user, start=start, end=end)
        data["speed"].pop("by_hour_full", None)
        return Response(data)


def parse_quota(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        quota = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError({"quota": "Enter a number."}) from None
    if not quota.is_finite() or quota <= 0:
        raise ValidationError({"quota": "Enter a positive amount."})
    return quota


class ExecutiveView(MetricsView):
    @extend_schema(parameters=[*RANGE_PARAMS, OpenApiParameter("quota", OpenApiTypes.NUMBER,
                                                               description="Quota of the period, for coverage")],
                   responses={200: OpenApiTypes.OBJECT, **ERRORS}, tags=["metrics"])
    def get(self, request):
        start, end = self.range(request)
        quota = parse_quota(request.query_params.get("quota"))
        return Response(metrics.executive(user=request.user, start=start, end=end, quota=quota))


urlpatterns = [
    path("metrics/funnel/", FunnelView.as_view(), name="metrics-funnel"),
    path("metrics/marketing/", MarketingView.as_view(), name="metrics-marketing"),
    path("metrics/sales/", SalesView.as_view(), name="metrics-sales"),
    path("metrics/executive/", ExecutiveView.as_view(), name="metrics-executive"),
]
