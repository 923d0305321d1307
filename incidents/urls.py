from __future__ import annotations

from django.urls import path

from coe_portal.sections import section_page
from incidents import views

app_name = "incidents"

urlpatterns = [
    path("incidents/", views.incident_list, name="incident-list"),
    path("incidents/new/", views.incident_create, name="incident-create"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
    path("incidents/<int:pk>/status", views.incident_status, name="incident-status"),
    path("incidents/<int:pk>/timeline", views.timeline_add, name="timeline-add"),
    path("incidents/<int:pk>/timeline/<int:entry_id>", views.timeline_edit, name="timeline-edit"),
    path("coes/", section_page("COEs", "Correction of Error reports"), name="coe-list"),
    path(
        "action-items/",
        section_page("Action items", "COE action items and their reminders"),
        name="action-item-list",
    ),
]
