"""API endpoints for metrics (see docs/architecture.md)."""

import datetime as dt

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from routing import selectors as routing_selectors

# ---------------------------------------------------------------- speed-to-lead (routing issue)


class SpeedToLeadQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "Must not be before start."})
        return attrs


class SpeedToLeadView(APIView):
    """GET /metrics/speed-to-lead/?start=&end= (dates, UTC, both ends included; default the last 30 days).

    Minutes from MQL to the first logged call / email / meeting, over the handoffs the user may see.
    """

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[SpeedToLeadQuerySerializer], responses={200: inline_serializer("SpeedToLead", {
        "count": serializers.IntegerField(), "mean_minutes": serializers.FloatField(allow_null=True),
        "median_minutes": serializers.FloatField(allow_null=True),
        "within_sla_share": serializers.FloatField(allow_null=True),
        "by_rep": serializers.ListField(child=serializers.DictField()),
        "by_hour": serializers.ListField(child=serializers.DictField())}),
        400: OpenApiResponse(description="bad date")})
    def get(self, request):
        query = SpeedToLeadQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        now = timezone.now()
        end = query.validated_data.get("end") or now.date()
        start = query.validated_data.get("start") or end - dt.timedelta(days=29)
        start_at = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
        end_at = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        body = routing_selectors.speed_to_lead(user=request.user, start=start_at, end=end_at, now=now)
        return Response({"start": start.isoformat(), "end": end.isoformat(), **body})


urlpatterns: list = [
    path("metrics/speed-to-lead/", SpeedToLeadView.as_view(), name="metrics-speed-to-lead"),
]
