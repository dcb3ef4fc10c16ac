from django.urls import include, path
from django.views.generic import RedirectView

from revops.views import dashboards, deals

web = ([
    path("deals/", deals.board, name="deal-board"),
    path("deals/<int:deal_id>/move/", deals.move, name="deal-move"),
    path("approvals/", deals.approvals, name="approvals"),
    path("approvals/<int:approval_id>/decide/", deals.approval_decide, name="approval-decide"),
    path("dashboards/", dashboards.index, name="dashboards"),
    path("dashboards/marketing/", dashboards.marketing, name="dashboard-marketing"),
    path("dashboards/sales/", dashboards.sales, name="dashboard-sales"),
    path("dashboards/executive/", dashboards.executive, name="dashboard-executive"),
], "web")

urlpatterns = [
    path("", RedirectView.as_view(url="/app/", permanent=False)),
    path("app/", include(web)),
    path("app/", include("leads.urls")),
]
