"""Rep web app: server-rendered pages (htmx partials where a page updates in place)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from .filters import LeadFilterSet
from .selectors import lead_get_for, lead_history, lead_list_for


@login_required
def lead_list(request):
    queryset = lead_list_for(user=request.user).select_related("account", "owner")
    filterset = LeadFilterSet(request.GET or None, queryset=queryset)
    page = Paginator(filterset.qs if filterset.is_bound and filterset.is_valid() else queryset, 50).get_page(
        request.GET.get("page")
    )
    template = "leads/_lead_rows.html" if request.htmx else "leads/lead_list.html"
    return render(request, template, {"page": page, "filterset": filterset})


@login_required
def lead_detail(request, lead_id: int):
    lead = lead_get_for(user=request.user, lead_id=lead_id)
    return render(request, "leads/lead_detail.html", {"lead": lead, "history": lead_history(lead=lead)})
