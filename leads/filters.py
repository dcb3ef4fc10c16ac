"""Lead filters shared by the API and the rep web app (netbox pattern)."""

import django_filters

from .models import Lead


class LeadFilterSet(django_filters.FilterSet):
    lifecycle_stage = django_filters.ChoiceFilter(choices=Lead.Stage.choices)
    owner = django_filters.NumberFilter(field_name="owner_id")
    source = django_filters.CharFilter(field_name="source", lookup_expr="iexact")
    segment = django_filters.CharFilter(field_name="segment")
    account = django_filters.NumberFilter(field_name="account_id")
    is_recycled = django_filters.BooleanFilter()
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Lead
        fields = ["lifecycle_stage", "owner", "source", "segment", "account", "is_recycled", "email"]
