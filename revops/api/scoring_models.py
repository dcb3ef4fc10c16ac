"""``POST /api/v1/scoring-models/{id}/activate/``: activation rescoring can make MQLs that routing
hands off, so the endpoint calls the flow at this level (the rest of the scoring-model API is in
``scoring/api.py``)."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from leads.access import can_configure
from revops.flows.scoring import scoring_model_activate
from scoring.api import ActivatedSerializer, ActivateInSerializer
from scoring.models import ScoringModel


class ScoringModelActivateView(APIView):
    @extend_schema(request=ActivateInSerializer, responses={
        200: ActivatedSerializer, 400: OpenApiResponse(description="invalid or already active"),
        403: OpenApiResponse(description="not a manager"), 404: OpenApiResponse(description="unknown model")})
    def post(self, request, pk: int):
        """Make this the one active model of its segment; its leads are rescored (large segments in the
        background: follow ``rescore_job``)."""
        if not can_configure(request.user):
            raise PermissionDenied("Only managers and RevOps admins configure scoring models.")
        model = get_object_or_404(ScoringModel, pk=pk)
        payload = ActivateInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        model, job = scoring_model_activate(model=model, actor=request.user, note=payload.validated_data["note"])
        model.rescore_job = job
        return Response(ActivatedSerializer(model).data)


urlpatterns = [
    path("scoring-models/<int:pk>/activate/", ScoringModelActivateView.as_view(), name="scoring-model-activate"),
]
