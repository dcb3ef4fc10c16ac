from django.urls import include, path
from django.views.generic import RedirectView

from revops.views import dashboards, deals, leads

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

# The rep's lead pages keep their "leads:" URL names.
lead_pages = ([
    path("", leads.queue, name="queue"),
    path("tasks/", leads.my_tasks, name="tasks"),
    path("tasks/<int:task_id>/done/", leads.task_done, name="task-done"),
    path("leads/<int:lead_id>/", leads.lead_detail, name="detail"),
    path("leads/<int:lead_id>/activities/", leads.lead_log_activity, name="log-activity"),
    path("leads/<int:lead_id>/accept/", leads.lead_accept, name="accept"),
    path("leads/<int:lead_id>/reject/", leads.lead_reject, name="reject"),
    path("leads/<int:lead_id>/convert/", leads.lead_convert, name="convert"),
], "leads")

urlpatterns = [
    path("", RedirectView.as_view(url="/app/", permanent=False)),
    path("app/", include(web)),
    path("app/", include(lead_pages)),
]
