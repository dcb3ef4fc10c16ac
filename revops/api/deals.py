"""Deals API (API.md "Deals"): create, read, edit with close-date discipline, stage moves, deal desk.

Views stay thin: each parses input with a serializer and calls one service, selector or flow.
``stage`` and the hygiene flags are read-only everywhere; stage changes go through
``/transition/``, which calls revops.flows.deals (closing a deal hands the customer over).
"""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from leads import access
from leads.models import Account, Lead
from pipeline import selectors, services
from pipeline.models import REQUIRED_FIELDS, Approval, Deal, DealStageChange
from revops.flows.deals import deal_move

R400 = OpenApiResponse(description="bad input: names the field (or missing_fields)")
R403 = OpenApiResponse(description="not yours / not your role")
R404 = OpenApiResponse(description="unknown deal")
R409 = OpenApiResponse(description="not allowed from the current stage, or changed by someone else")

STAGE_FIELDS = sorted({f for fields in REQUIRED_FIELDS.values() for f in fields} - {"contact", "company"}
                      | {"competitor"})


class ApprovalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Approval
        fields = ["id", "tier", "approver_role", "exception", "exception_text", "state", "requested_by",
                  "decided_by", "decided_at", "note", "created_at"]
        read_only_fields = fields


class StageChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = DealStageChange
        fields = ["from_stage", "stage", "entered_at", "left_at", "duration_seconds", "backward", "skipped",
                  "reason", "actor"]
        read_only_fields = fields


class DealSerializer(serializers.ModelSerializer):
    flags = serializers.ListField(child=serializers.CharField(), read_only=True)
    days_in_stage = serializers.SerializerMethodField()
    contacts = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Deal
        fields = ["id", "name", "account", "lead", "contacts", "owner", "cs_owner", "amount", "close_date",
                  "stage", "stage_entered_at", "days_in_stage", "closed_at", "close_date_pushes", "flags",
                  "stage_skipped", "stale", "forecast_review", "needs_approval", "source", "fit_score",
                  "pain_points", "current_solution", "timeline", "technical_requirements", "decision_makers",
                  "pricing", "terms", "stakeholder_map", "redlines", "approval_chain", "signed_contract",
                  "payment_terms", "loss_reason", "competitor", "discount_percent", "acv", "term_months",
                  "custom_terms", "created_at", "updated_at"]
        read_only_fields = fields

    def get_days_in_stage(self, deal) -> float:
        return round(selectors.time_in_stage(deal=deal).total_seconds() / 86400, 2)


class _FieldsIn(serializers.Serializer):
    """The editable data of a deal (shared by create, PATCH and the transition payload)."""

    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    owner = serializers.IntegerField(required=False, allow_null=True)
    account = serializers.IntegerField(required=False, allow_null=True)
    lead = serializers.IntegerField(required=False, allow_null=True)
    source = serializers.CharField(required=False, allow_blank=True, max_length=100)
    fit_score = serializers.IntegerField(required=False, allow_null=True)
    pain_points = serializers.CharField(required=False, allow_blank=True)
    current_solution = serializers.CharField(required=False, allow_blank=True)
    timeline = serializers.CharField(required=False, allow_blank=True, max_length=200)
    technical_requirements = serializers.CharField(required=False, allow_blank=True)
    decision_makers = serializers.CharField(required=False, allow_blank=True)
    pricing = serializers.CharField(required=False, allow_blank=True)
    terms = serializers.CharField(required=False, allow_blank=True)
    stakeholder_map = serializers.CharField(required=False, allow_blank=True)
    redlines = serializers.CharField(required=False, allow_blank=True)
    approval_chain = serializers.CharField(required=False, allow_blank=True)
    signed_contract = serializers.CharField(required=False, allow_blank=True, max_length=500)
    payment_terms = serializers.CharField(required=False, allow_blank=True, max_length=200)
    loss_reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
    competitor = serializers.CharField(required=False, allow_blank=True, max_length=200)
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100,
                                                required=False)
    acv = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True)
    term_months = serializers.IntegerField(min_value=1, max_value=120, required=False)
    custom_terms = serializers.CharField(required=False, allow_blank=True)

    def _check_fk(self, model, value, name):
        if value is not None and not model.objects.filter(pk=value).exists():
            raise serializers.ValidationError(f"Unknown {name} {value}.")
        return value

    def validate_account(self, value):
        return self._check_fk(Account, value, "account")

    def validate_lead(self, value):
        return self._check_fk(Lead, value, "lead")

    def validate_owner(self, value):
        from django.contrib.auth import get_user_model

        return self._check_fk(get_user_model(), value, "owner")


class DealCreateIn(_FieldsIn):
    name = serializers.CharField(max_length=200)
    close_date = serializers.DateField(required=False, allow_null=True)


class DealPatchIn(_FieldsIn):
    name = serializers.CharField(max_length=200, required=False)
    close_date = serializers.DateField(required=False, allow_null=True)
    close_date_reason = serializers.CharField(required=False, allow_blank=True)


class TransitionIn(_FieldsIn):
    to = serializers.ChoiceField(choices=Deal.Stage.choices)
    reason = serializers.CharField(required=False, allow_blank=True)
    close_date = serializers.DateField(required=False, allow_null=True)
    close_date_reason = serializers.CharField(required=False, allow_blank=True)


class DecisionIn(serializers.Serializer):
    approval = serializers.IntegerField(required=False)
    tier = serializers.ChoiceField(choices=Approval.Tier.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class DealViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = DealSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        queryset = selectors.deal_list_for(user=self.request.user).prefetch_related("contacts")
        params = self.request.query_params
        for name in ("stage", "owner"):
            if params.get(name):
                queryset = queryset.filter(**{name: params[name]})
        for flag in ("stale", "stage_skipped", "forecast_review", "needs_approval"):
            if params.get(flag) in ("true", "1"):
                queryset = queryset.filter(**{flag: True})
        return queryset

    def _deal(self, pk):
        return selectors.deal_get_for(user=self.request.user, deal_id=pk)

    def _reply(self, deal, code=status.HTTP_200_OK):
        deal.refresh_from_db()
        return Response(DealSerializer(deal).data, status=code)

    @extend_schema(parameters=[OpenApiParameter("stage", str), OpenApiParameter("owner", int),
                               OpenApiParameter("stale", bool), OpenApiParameter("needs_approval", bool)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: DealSerializer, 403: R403, 404: R404})
    def retrieve(self, request, pk=None):
        return Response(DealSerializer(self._deal(pk)).data)

    @extend_schema(request=DealCreateIn, responses={201: DealSerializer, 400: R400, 403: R403})
    def create(self, request):
        payload = DealCreateIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        if access.scope_for(request.user) == access.NONE:
            raise PermissionDenied("You may not create deals.")
        deal = services.deal_create(actor=request.user, **data)
        return self._reply(deal, status.HTTP_201_CREATED)

    @extend_schema(request=DealPatchIn, responses={200: DealSerializer, 400: R400, 403: R403, 404: R404})
    def partial_update(self, request, pk=None):
        deal = self._deal(pk)
        payload = DealPatchIn(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        has_date = "close_date" in data
        close_date = data.pop("close_date", None)
        reason = data.pop("close_date_reason", "")
        if has_date and close_date is None and deal.close_date is not None:
            return Response({"close_date": ["A close date cannot be removed."]}, status=400)
        deal = services.deal_update(deal=deal, actor=request.user, close_date=close_date,
                                    close_date_reason=reason, **data)
        return self._reply(deal)

    @extend_schema(request=TransitionIn, responses={200: DealSerializer, 400: R400, 403: R403, 404: R404,
                                                    409: R409})
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        deal = self._deal(pk)
        payload = TransitionIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        to, reason = data.pop("to"), data.pop("reason", "")
        deal = deal_move(deal=deal, to=to, actor=request.user, reason=reason, fields=data)
        return self._reply(deal)

    @extend_schema(request=None, responses={200: ApprovalSerializer(many=True), 403: R403, 404: R404})
    @action(detail=True, methods=["get"])
    def approvals(self, request, pk=None):
        deal = selectors.deal_get_for_approver(user=request.user, deal_id=pk)
        return Response(ApprovalSerializer(selectors.approvals_for(deal=deal), many=True).data)

    @extend_schema(request=None, responses={200: ApprovalSerializer(many=True), 403: R403, 404: R404, 409: R409})
    @action(detail=True, methods=["post"], url_path="request-approval")
    def request_approval(self, request, pk=None):
        deal = self._deal(pk)
        services.deal_request_approvals(deal=deal, actor=request.user)
        return Response(ApprovalSerializer(selectors.approvals_for(deal=deal), many=True).data)

    @extend_schema(request=DecisionIn, responses={200: ApprovalSerializer, 400: R400, 403: R403, 404: R404,
                                                  409: R409})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(request, pk, approve=True)

    @extend_schema(request=DecisionIn, responses={200: ApprovalSerializer, 400: R400, 403: R403, 404: R404,
                                                  409: R409})
    @action(detail=True, methods=["post"], url_path="reject-approval")
    def reject_approval(self, request, pk=None):
        return self._decide(request, pk, approve=False)

    def _decide(self, request, pk, *, approve):
        deal = selectors.deal_get_for_approver(user=request.user, deal_id=pk)
        payload = DecisionIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        approval = services.approval_decide(deal=deal, actor=request.user, approve=approve,
                                            approval_id=data.get("approval"), tier=data.get("tier"),
                                            note=data.get("note", ""))
        return Response(ApprovalSerializer(approval).data)

    @extend_schema(responses={200: StageChangeSerializer(many=True), 403: R403, 404: R404})
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        deal = self._deal(pk)
        return Response(StageChangeSerializer(deal.stage_changes.order_by("entered_at", "id"), many=True).data)

    @extend_schema(responses={200: OpenApiResponse(description="most requested exceptions"), 403: R403})
    @action(detail=False, methods=["get"])
    def exceptions(self, request):
        if not (access.scope_for(request.user) in (access.ALL, access.TEAM)
                or selectors.is_approver(user=request.user)):
            raise PermissionDenied("Managers, RevOps and approvers only.")
        return Response(selectors.exception_report())

    @extend_schema(parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str),
                               OpenApiParameter("quota", float)],
                   responses={200: OpenApiResponse(description="pipeline metrics"), 400: R400})
    @action(detail=False, methods=["get"])
    def metrics(self, request):
        params = MetricsIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        scoped = None if access.scope_for(request.user) == access.ALL else request.user
        return Response(selectors.pipeline_metrics(user=scoped, **params.validated_data))


class MetricsIn(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    quota = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0, required=False)


def register(router):
    """Add viewsets to the /api/v1/ router."""
    router.register("deals", DealViewSet, basename="deal")
