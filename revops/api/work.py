"""API for a rep's work: tasks, a lead's routing and SLA, logged activities, routing dry runs."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from leads import access
from leads.selectors import lead_get_for
from pipeline.models import Activity, Task
from pipeline.services import task_complete
from routing import selectors as routing_selectors
from routing import services as routing_services

_errors = {400: OpenApiResponse(description="bad field"), 403: OpenApiResponse(description="not yours"),
           404: OpenApiResponse(description="unknown lead")}


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "kind", "title", "lead", "deal", "owner", "due_at", "completed_at"]
        read_only_fields = fields


class TaskFilterSerializer(serializers.Serializer):
    owner = serializers.IntegerField(required=False, min_value=1)
    open = serializers.BooleanField(required=False, allow_null=True, default=None)
    kind = serializers.ChoiceField(choices=Task.Kind.choices, required=False)


@extend_schema(responses={200: TaskSerializer, **_errors})
class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tasks the user may see (own; the team's for managers; all for admins), soonest due first."""

    serializer_class = TaskSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_class = None
    filter_backends: list = []
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        queryset = access.restrict_by_owner(Task.objects.all(), self.request.user).order_by("due_at", "id")
        if self.action != "list":
            return queryset
        params = TaskFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if data.get("owner"):
            queryset = queryset.filter(owner_id=data["owner"])
        if data.get("open") is not None:
            queryset = queryset.filter(completed_at__isnull=data["open"])
        if data.get("kind"):
            queryset = queryset.filter(kind=data["kind"])
        return queryset


class AssignmentOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rep = serializers.IntegerField(source="rep_id", allow_null=True)
    team = serializers.IntegerField(source="team_id", allow_null=True)
    rule = serializers.CharField()
    reason = serializers.CharField()
    note = serializers.CharField()
    skipped = serializers.ListField(child=serializers.DictField())
    policy = serializers.CharField()
    trigger = serializers.CharField()
    is_current = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class LeadRoutingView(APIView):
    """GET /leads/{id}/routing/: every routing decision of the lead, newest first."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: inline_serializer("LeadRouting", {
        "lead": serializers.IntegerField(), "results": AssignmentOutSerializer(many=True),
        "next": serializers.CharField(allow_null=True)}), **_errors})
    def get(self, request, lead_id: int):
        lead = lead_get_for(user=request.user, lead_id=lead_id)
        rows = routing_selectors.lead_assignments(lead=lead)
        return Response({"lead": lead.pk, "results": AssignmentOutSerializer(rows, many=True).data, "next": None})


class LeadSlaView(APIView):
    """GET /leads/{id}/sla/: the current SLA clock and its escalations."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: inline_serializer("LeadSla", {
        "policy": serializers.CharField(allow_null=True),
        "first_contact_due": serializers.DateTimeField(allow_null=True),
        "first_contact_at": serializers.DateTimeField(allow_null=True),
        "breached": serializers.BooleanField(),
        "escalations": serializers.ListField(child=serializers.DictField())}), **_errors})
    def get(self, request, lead_id: int):
        lead = lead_get_for(user=request.user, lead_id=lead_id)
        sla = routing_selectors.lead_sla_current(lead=lead)
        if sla is None:
            return Response({"policy": None, "first_contact_due": None, "first_contact_at": None,
                             "breached": False, "escalations": []})
        now = timezone.now()
        breached = bool(sla.breached_at) or (
            sla.first_contact_at > sla.first_contact_due if sla.first_contact_at else now > sla.first_contact_due)
        field = serializers.DateTimeField()
        escalations = [
            {"at": field.to_representation(step.fired_at), "action": step.action,
             "to": step.to_id, "to_username": step.to.get_username() if step.to else None, "note": step.note}
            for step in routing_selectors.lead_sla_escalations(sla=sla)
        ]
        return Response({
            "policy": sla.policy_name,
            "first_contact_due": field.to_representation(sla.first_contact_due),
            "first_contact_at": field.to_representation(sla.first_contact_at) if sla.first_contact_at else None,
            "breached": breached,
            "breached_at": field.to_representation(sla.breached_at) if sla.breached_at else None,
            "qualification_due": field.to_representation(sla.qualification_due) if sla.qualification_due else None,
            "started_at": field.to_representation(sla.started_at),
            "escalations": escalations,
            "sql": _sql_clock(lead),
        })


def _sql_clock(lead) -> dict | None:
    """The SQL phase (discovery call in 3 business days, opportunity in 5), when the lead has one."""
    sla = routing_selectors.lead_sla_current(lead=lead, phase="sql")
    if sla is None:
        return None
    field = serializers.DateTimeField()

    def when(value):
        return field.to_representation(value) if value else None

    return {
        "policy": sla.policy_name, "started_at": when(sla.started_at),
        "discovery_due": when(sla.discovery_due), "discovery_at": when(sla.discovery_at),
        "opportunity_due": when(sla.opportunity_due), "opportunity_at": when(sla.opportunity_at),
        "pipeline_review_at": when(sla.pipeline_review_at),
        "escalations": [{"at": when(step.fired_at), "action": step.action, "to": step.to_id}
                        for step in routing_selectors.lead_sla_escalations(sla=sla)],
    }


class ActivityInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    occurred_at = serializers.DateTimeField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=10000)

    def validate_occurred_at(self, value):
        if value > timezone.now() + timezone.timedelta(minutes=5):
            raise serializers.ValidationError("Cannot be in the future.")
        return value


class ActivityOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Activity
        fields = ["id", "kind", "lead", "rep", "occurred_at", "note"]


class LeadActivityView(APIView):
    """POST /leads/{id}/activities/: log a call, email or meeting (the first after the MQL is the first contact)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=ActivityInSerializer, responses={201: ActivityOutSerializer, **_errors})
    def post(self, request, lead_id: int):
        lead = lead_get_for(user=request.user, lead_id=lead_id)
        data = ActivityInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity, first = routing_services.activity_log(lead=lead, actor=request.user, **data.validated_data)
        body = ActivityOutSerializer(activity).data
        body["first_contact"] = first
        return Response(body, status=status.HTTP_201_CREATED)


class DryRunInSerializer(serializers.Serializer):
    trigger = serializers.CharField(required=False, allow_blank=True, max_length=50, default="")


class LeadRoutingDryRunView(APIView):
    """POST /leads/{id}/routing/dry-run/: who would get this lead now, and why — nothing is assigned."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=DryRunInSerializer, responses={200: inline_serializer("RoutingDryRun", {
        "rep": serializers.IntegerField(allow_null=True), "team": serializers.IntegerField(allow_null=True),
        "rule": serializers.CharField(), "reason": serializers.CharField(),
        "skipped": serializers.ListField(child=serializers.DictField()),
        "policy": serializers.CharField(allow_null=True),
        "first_contact_due": serializers.DateTimeField(allow_null=True)}), **_errors})
    def post(self, request, lead_id: int):
        lead = lead_get_for(user=request.user, lead_id=lead_id)
        data = DryRunInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = routing_services.lead_route_dry_run(lead=lead, trigger=data.validated_data["trigger"])
        body = result.as_dict()
        body["first_contact_due"] = serializers.DateTimeField().to_representation(body["first_contact_due"])
        return Response(body)




class TaskCompleteView(APIView):
    """POST /tasks/{id}/complete/: mark one of your tasks done (idempotent)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={200: TaskSerializer, 403: OpenApiResponse(description="not yours"),
                                            404: OpenApiResponse(description="unknown task")})
    def post(self, request, task_id: int):
        task = get_object_or_404(Task, pk=task_id)
        if not access.restrict_by_owner(Task.objects.filter(pk=task.pk), request.user).exists():
            raise PermissionDenied("This task belongs to someone else.")
        return Response(TaskSerializer(task_complete(task=task, actor=request.user)).data)


def register(router):
    """Add viewsets to the /api/v1/ router."""
    router.register("tasks", TaskViewSet, basename="task")


urlpatterns: list = [
    path("leads/<int:lead_id>/routing/", LeadRoutingView.as_view(), name="lead-routing"),
    path("leads/<int:lead_id>/routing/dry-run/", LeadRoutingDryRunView.as_view(), name="lead-routing-dry-run"),
    path("leads/<int:lead_id>/sla/", LeadSlaView.as_view(), name="lead-sla"),
    path("leads/<int:lead_id>/activities/", LeadActivityView.as_view(), name="lead-activities"),
    path("tasks/<int:task_id>/complete/", TaskCompleteView.as_view(), name="task-complete"),
]
