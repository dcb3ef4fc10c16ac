from django.urls import path

from . import views

app_name = "leads"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("tasks/", views.my_tasks, name="tasks"),
    path("leads/<int:lead_id>/", views.lead_detail, name="detail"),
    path("leads/<int:lead_id>/activities/", views.lead_log_activity, name="log-activity"),
    path("leads/<int:lead_id>/accept/", views.lead_accept, name="accept"),
    path("leads/<int:lead_id>/reject/", views.lead_reject, name="reject"),
    path("leads/<int:lead_id>/convert/", views.lead_convert, name="convert"),
]
