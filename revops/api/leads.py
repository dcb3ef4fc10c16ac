"""Leads API (integrations): upsert, read, list, history."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from leads.filters import LeadFilterSet
from leads.models import Lead
from leads.selectors import lead_check_change, lead_get_for, lead_history, lead_list_for
from revops.flows import qualification
from revops.flows.intake import lead_intake


class BreakdownItemSerializer(serializers.Serializer):
    rule = serializers.CharField()
    kind = serializers.CharField(required=False)
    points = serializers.IntegerField()
    reason = serializers.CharField()
    # The events behind the points (event ids), so a rep can see exactly why.
    events = serializers.ListField(child=serializers.JSONField(), required=False)


class LeadSerializer(serializers.ModelSerializer):
    owner = serializers.IntegerField(source="owner_id", read_only=True, allow_null=True)
    account = serializers.IntegerField(source="account_id", read_only=True, allow_null=True)
    score_breakdown = BreakdownItemSerializer(many=True, read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id", "email", "first_name", "last_name", "title", "title_level", "department", "phone", "source",
            "campaign", "segment", "lifecycle_stage", "fit_score", "engagement_score", "score", "owner",
            "account", "is_recycled", "do_not_contact", "mql_at", "sql_at", "opportunity_at", "customer_at",
            "score_breakdown", "created_at",
        ]
        read_only_fields = fields


class CompanyInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    domain = serializers.CharField(max_length=200, required=False, allow_blank=True, allow_null=True)
    employees = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    annual_revenue = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0, required=False,
                                              allow_null=True)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, min_length=2, required=False, allow_blank=True)
    state = serializers.CharField(max_length=50, required=False, allow_blank=True)


class LeadInSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    department = serializers.CharField(max_length=100, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    source = serializers.CharField(max_length=100, required=False, allow_blank=True)
    campaign = serializers.CharField(max_length=200, required=False, allow_blank=True)
    segment = serializers.CharField(max_length=50, required=False, allow_blank=True)
    company = CompanyInSerializer(required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip()}
        return super().to_internal_value(data)


class AcceptInSerializer(serializers.Serializer):
    budget = serializers.BooleanField(default=False)
    authority = serializers.BooleanField(default=False)
    need = serializers.BooleanField(default=False)
    timeline = serializers.BooleanField(default=False)


class RejectInSerializer(serializers.Serializer):
    reason_code = serializers.CharField(max_length=20)
    contract_renewal_date = serializers.DateField(required=False, allow_null=True)


class ConvertInSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    close_date = serializers.DateField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ConvertedLeadSerializer(LeadSerializer):
    deal = serializers.IntegerField(read_only=True)

    class Meta(LeadSerializer.Meta):
        fields = [*LeadSerializer.Meta.fields, "deal"]
        read_only_fields = fields


class HistoryItemSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True)
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)


_ACTION_ERRORS = {
    400: OpenApiResponse(description="a guard or required field, named"),
    403: OpenApiResponse(description="not yours"),
    404: OpenApiResponse(description="unknown lead"),
    409: OpenApiResponse(description="not allowed from this stage, or changed concurrently"),
}


class LeadViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = LeadSerializer
    filterset_class = LeadFilterSet
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        # Filtering happens in the FilterSet backend; the selector applies the permission scope.
        return lead_list_for(user=self.request.user)

    @extend_schema(responses={200: LeadSerializer, 403: OpenApiResponse(description="not yours"),
                              404: OpenApiResponse(description="unknown lead")})
    def retrieve(self, request, pk=None):
        return Response(LeadSerializer(lead_get_for(user=request.user, lead_id=pk)).data)

    @extend_schema(request=LeadInSerializer, responses={201: LeadSerializer, 200: LeadSerializer,
                                                        400: OpenApiResponse(description="bad field"),
                                                        403: OpenApiResponse(description="lead not yours")})
    def create(self, request):
        payload = LeadInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        fields = dict(payload.validated_data)
        company = fields.pop("company", None)
        lead_check_change(user=request.user, email=fields["email"])
        lead, created = lead_intake(company=company, actor=request.user, reason="api upsert", **fields)
        return Response(LeadSerializer(lead).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def _action_lead(self, request, pk):
        # 404 for an unknown id, 403 for a lead the user may not change.
        return lead_get_for(user=request.user, lead_id=pk)

    @extend_schema(request=AcceptInSerializer, responses={200: LeadSerializer, **_ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        lead = self._action_lead(request, pk)
        payload = AcceptInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        lead = qualification.lead_accept(lead=lead, actor=request.user, **payload.validated_data)
        return Response(LeadSerializer(lead).data)

    @extend_schema(request=RejectInSerializer, responses={200: LeadSerializer, **_ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        lead = self._action_lead(request, pk)
        payload = RejectInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        lead = qualification.lead_reject_with_code(lead=lead, actor=request.user, **payload.validated_data)
        return Response(LeadSerializer(lead).data)

    @extend_schema(request=ConvertInSerializer, responses={200: ConvertedLeadSerializer, **_ACTION_ERRORS})
    @action(detail=True, methods=["post"])
    def convert(self, request, pk=None):
        lead = self._action_lead(request, pk)
        payload = ConvertInSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        lead, deal = qualification.lead_convert(lead=lead, actor=request.user, **payload.validated_data)
        lead.deal = deal.pk
        return Response(ConvertedLeadSerializer(lead).data)

    @extend_schema(responses={200: HistoryItemSerializer(many=True), 403: OpenApiResponse(description="not yours"),
                              404: OpenApiResponse(description="unknown lead")})
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        lead = lead_get_for(user=request.user, lead_id=pk)
        return Response(HistoryItemSerializer(lead_history(lead=lead), many=True).data)
