"""Events API (API.md "Events"): single and bulk ingestion; the flow does the work in one transaction."""

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from revops.flows.events import event_ingest, events_ingest_bulk


class EventInSerializer(serializers.Serializer):
    """Documentation of the body; parsing is done by ``revops.flows.events.event_parse`` (shared with bulk)."""

    email = serializers.EmailField(required=False)
    lead = serializers.IntegerField(required=False)
    type = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    idempotency_key = serializers.CharField(max_length=200)
    properties = serializers.DictField(required=False)


class EventOutSerializer(serializers.Serializer):
    event_id = serializers.IntegerField()
    duplicate = serializers.BooleanField()
    lead_id = serializers.IntegerField()
    lifecycle_stage = serializers.CharField()
    fit_score = serializers.IntegerField()
    engagement_score = serializers.IntegerField()
    score = serializers.IntegerField()
    owner = serializers.IntegerField(allow_null=True)


BulkOut = inline_serializer("EventBulkResult", {
    "stored": serializers.IntegerField(), "duplicates": serializers.IntegerField(),
    "errors": serializers.ListField(child=inline_serializer("EventBulkError", {
        "index": serializers.IntegerField(), "error": serializers.CharField()})),
})


class EventView(APIView):
    """``POST /api/v1/events/`` -> 201 stored, 200 duplicate (same idempotency key)."""

    @extend_schema(request=EventInSerializer, responses={
        201: EventOutSerializer, 200: EventOutSerializer, 400: OpenApiResponse(description="bad field"),
        404: OpenApiResponse(description="unknown lead")})
    def post(self, request):
        reply, created = event_ingest(item=request.data, actor=request.user)
        return Response(reply, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class EventBulkView(APIView):
    """``POST /api/v1/events/bulk/`` with up to 1,000 events -> 200 ``{"stored","duplicates","errors"}``."""

    @extend_schema(request=EventInSerializer(many=True), responses={
        200: BulkOut, 400: OpenApiResponse(description="not a list, or more than 1,000 events")})
    def post(self, request):
        return Response(events_ingest_bulk(items=request.data, actor=request.user))


urlpatterns: list = [
    path("events/", EventView.as_view(), name="event-create"),
    path("events/bulk/", EventBulkView.as_view(), name="event-bulk"),
]
