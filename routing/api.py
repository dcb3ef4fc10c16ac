"""Configuration API: teams, reps (creating the user), territories. Admins and managers only."""

import zoneinfo

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response

from leads import access

from . import services
from .models import Rep, Team, Territory


class CanConfigure(permissions.BasePermission):
    message = "Only managers and RevOps admins may change configuration."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return access.scope_for(request.user) != access.NONE
        return access.can_configure(request.user)


def _validate_tz(value):
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise serializers.ValidationError("Unknown IANA timezone.") from exc
    return value


class TeamSerializer(serializers.ModelSerializer):
    timezone = serializers.CharField(max_length=64, required=False, validators=[_validate_tz])
    work_start = serializers.TimeField(format="%H:%M", required=False)
    work_end = serializers.TimeField(format="%H:%M", required=False)
    work_days = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), required=False,
                                      allow_empty=False)
    holiday_country = serializers.CharField(max_length=2, min_length=2, required=False, allow_null=True)

    class Meta:
        model = Team
        fields = ["id", "name", "queue_sla_minutes", "timezone", "holiday_country", "work_start", "work_end",
                  "work_days"]

    def validate_holiday_country(self, value):
        if value is None:
            return None
        import holidays

        value = value.upper()
        if value not in holidays.list_supported_countries():
            raise serializers.ValidationError("Unknown or unsupported country code.")
        return value

    def validate(self, attrs):
        start = attrs.get("work_start", getattr(self.instance, "work_start", None))
        end = attrs.get("work_end", getattr(self.instance, "work_end", None))
        if start and end and isinstance(start, type(end)) and end <= start:
            raise serializers.ValidationError({"work_end": "Must be after work_start."})
        return attrs

    def create(self, validated_data):
        return services.team_create(actor=self.context["request"].user, **validated_data)


class RepSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="pk", read_only=True)
    username = serializers.CharField(source="user.username", max_length=150)
    email = serializers.EmailField(source="user.email")
    password = serializers.CharField(write_only=True, required=False, min_length=8)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True)
    manager = serializers.PrimaryKeyRelatedField(queryset=Rep.objects.all(), allow_null=True, required=False)
    backup = serializers.PrimaryKeyRelatedField(queryset=Rep.objects.all(), allow_null=True, required=False)
    territories = serializers.PrimaryKeyRelatedField(queryset=Territory.objects.all(), many=True, required=False)
    timezone = serializers.CharField(max_length=64, required=False, validators=[_validate_tz])
    quota_attainment = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, required=False,
                                                coerce_to_string=False)

    class Meta:
        model = Rep
        fields = ["id", "username", "email", "password", "team", "role", "manager", "backup", "capacity",
                  "on_pto", "quota_attainment", "timezone", "territories", "active"]

    def validate(self, attrs):
        request = self.context["request"]
        rep = access.rep_of(request.user)
        if access.scope_for(request.user) == access.TEAM:
            team = attrs.get("team", getattr(self.instance, "team", None))
            if team is None or team.pk != rep.team_id:
                raise serializers.ValidationError({"team": "Managers may only manage reps of their own team."})
        if self.instance is not None and "user" in attrs and "username" in attrs["user"]:
            if attrs["user"]["username"] != self.instance.user.username:
                raise serializers.ValidationError({"username": "The username cannot be changed."})
        return attrs

    def create(self, validated_data):
        user = validated_data.pop("user")
        return services.rep_create(username=user["username"], email=user["email"],
                                   actor=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        user = validated_data.pop("user", {})
        validated_data.pop("password", None)
        return services.rep_update(rep=instance, actor=self.context["request"].user, email=user.get("email"),
                                   **validated_data)


class TerritorySerializer(serializers.ModelSerializer):
    countries = serializers.ListField(child=serializers.CharField(max_length=2), required=False)
    states = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    industries = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    owner = serializers.PrimaryKeyRelatedField(queryset=Rep.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Territory
        fields = ["id", "name", "priority", "countries", "states", "min_employees", "max_employees",
                  "industries", "team", "owner"]

    def validate(self, attrs):
        low = attrs.get("min_employees", getattr(self.instance, "min_employees", None))
        high = attrs.get("max_employees", getattr(self.instance, "max_employees", None))
        if low is not None and high is not None and high < low:
            raise serializers.ValidationError({"max_employees": "Must be at least min_employees."})
        return attrs

    def create(self, validated_data):
        return services.territory_create(actor=self.context["request"].user, **validated_data)


_errors = {400: OpenApiResponse(description="bad field"), 403: OpenApiResponse(description="not allowed")}


@extend_schema(responses={200: TeamSerializer, 201: TeamSerializer, **_errors})
class TeamViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                  mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = TeamSerializer
    permission_classes = [permissions.IsAuthenticated, CanConfigure]
    queryset = Team.objects.order_by("id")
    lookup_value_regex = r"\d+"


@extend_schema(responses={200: RepSerializer, 201: RepSerializer, **_errors})
class RepViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                 mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = RepSerializer
    permission_classes = [permissions.IsAuthenticated, CanConfigure]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        queryset = Rep.objects.select_related("user").prefetch_related("territories").order_by("pk")
        user = self.request.user
        scope = access.scope_for(user)
        if scope == access.ALL:
            return queryset
        rep = access.rep_of(user)
        return queryset.filter(team_id=rep.team_id) if rep.team_id else queryset.filter(pk=rep.pk)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rep = serializer.save()
        return Response(RepSerializer(rep, context={"request": request}).data, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: TerritorySerializer, 201: TerritorySerializer, **_errors})
class TerritoryViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = TerritorySerializer
    permission_classes = [permissions.IsAuthenticated, CanConfigure]
    queryset = Territory.objects.order_by("id")
    lookup_value_regex = r"\d+"
