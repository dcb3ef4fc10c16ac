"""Scoring-model API (API.md "Configuration"): list, read, create drafts, edit (new version), activate."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from leads.access import can_configure
from leads.selectors import lead_get_for

from . import engine, selectors, services
from .models import RescoreJob, ScoringModel


class RescoreJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = RescoreJob
        fields = ["id", "segment", "trigger", "status", "total", "processed", "changed", "qualified", "started_at",
                  "finished_at", "error"]
        read_only_fields = fields


class ScoringModelSerializer(serializers.ModelSerializer):
    approved_by = serializers.IntegerField(source="approved_by_id", read_only=True, allow_null=True)

    class Meta:
        model = ScoringModel
        fields = ["id", "name", "segment", "version", "status", "description", *ScoringModel.JSON_FIELDS,
                  *ScoringModel.SETTING_FIELDS, "approved_by", "approval_note", "activated_at", "retired_at",
                  "created_at"]
        read_only_fields = fields


class ScoringModelInSerializer(serializers.Serializer):
    """Shapes only; the rules and lists are validated strictly by the model (``scoring.validation``)."""

    name = serializers.CharField(max_length=100)
    segment = serializers.CharField(max_length=50, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    mql_threshold = serializers.IntegerField(required=False)
    min_fit = serializers.IntegerField(required=False)
    min_engagement = serializers.IntegerField(required=False)
    fast_track_events = serializers.JSONField(required=False)
    cooldown_minutes = serializers.IntegerField(min_value=0, required=False)
    rules = serializers.JSONField(required=False)
    approval_note = serializers.CharField(required=False, allow_blank=True)


for _name in ScoringModel.SETTING_FIELDS:
    ScoringModelInSerializer._declared_fields[_name] = serializers.JSONField(required=False)


class ActivateInSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ActivatedSerializer(ScoringModelSerializer):
    rescore_job = RescoreJobSerializer(read_only=True)

    class Meta(ScoringModelSerializer.Meta):
        fields = [*ScoringModelSerializer.Meta.fields, "rescore_job"]
        read_only_fields = fields


class ScoringModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ScoringModelSerializer
    lookup_value_regex = r"\d+"
    filterset_fields = ["segment", "status", "name"]

    def get_queryset(self):
        return selectors.scoring_model_list()

    def _require_configure(self):
        if not can_configure(self.request.user):
            raise PermissionDenied("Only managers and RevOps admins configure scoring models.")

    @extend_schema(request=ScoringModelInSerializer, responses={
        201: ScoringModelSerializer, 400: OpenApiResponse(description="bad rule or field"),
        403: OpenApiResponse(description="not a manager")})
    def create(self, request):
        self._require_configure()
        payload = ScoringModelInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        model = services.scoring_model_create(actor=request.user, **payload.validated_data)
        return Response(ScoringModelSerializer(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ScoringModelInSerializer, responses={
        200: ScoringModelSerializer, 400: OpenApiResponse(description="bad rule or field"),
        403: OpenApiResponse(description="not a manager"), 404: OpenApiResponse(description="unknown model")})
    def partial_update(self, request, pk=None):
        """Edit a draft; editing an active or retired model answers the new draft version."""
        self._require_configure()
        model = get_object_or_404(ScoringModel, pk=pk)
        payload = ScoringModelInSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        changes = {k: v for k, v in payload.validated_data.items() if k != "approval_note"}
        model = services.scoring_model_update(model=model, actor=request.user, **changes)
        return Response(ScoringModelSerializer(model).data)

    @extend_schema(parameters=[OpenApiParameter("lead", int, required=True)], responses={
        200: OpenApiResponse(description="the lead scored by this model (nothing stored)"),
        400: OpenApiResponse(description="lead missing"), 404: OpenApiResponse(description="unknown")})
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        """Try a model (a draft, say) on one lead now; nothing is stored."""
        model = get_object_or_404(ScoringModel, pk=pk)
        lead_id = request.query_params.get("lead", "")
        if not lead_id.isdigit():
            return Response({"lead": ["A lead id is required."]}, status=status.HTTP_400_BAD_REQUEST)
        lead = lead_get_for(user=request.user, lead_id=int(lead_id))
        at = timezone.now()
        model_dict = model.as_engine_dict()
        events = selectors.events_for_lead(model=model_dict, lead=lead, at=at)
        result = engine.score(model_dict, services.lead_attrs(lead), services.account_attrs(lead), events, at)
        return Response({"lead": lead.pk, "model": model.pk, "fit_score": result.fit,
                         "engagement_score": result.engagement, "score": result.total,
                         "qualifies": result.qualifies, "score_breakdown": result.breakdown})


def register(router):
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("scoring-models", ScoringModelViewSet, basename="scoring-model")
