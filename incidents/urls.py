from __future__ import annotations

from django.urls import path

from coe_portal.sections import section_page
from incidents import api, coe_edit_views, coe_views, team_settings, views

app_name = "incidents"

urlpatterns = [
    path("api/v1/incidents", api.incidents_api, name="api-incidents"),
    path("api/v1/incidents/<int:pk>", api.incident_detail_api, name="api-incident"),
    path("api/v1/incidents/<int:pk>/status", api.incident_status_api, name="api-incident-status"),
    path(
        "api/v1/incidents/<int:pk>/timeline",
        api.incident_timeline_api,
        name="api-incident-timeline",
    ),
    path("api/v1/coes", api.coe_list_api, name="api-coes"),
    path("api/v1/coes/<int:pk>", api.coe_detail_api, name="api-coe"),
    path("api/v1/action-items", api.action_item_list_api, name="api-action-items"),
    path("incidents/", views.incident_list, name="incident-list"),
    path("incidents/new/", views.incident_create, name="incident-create"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
    path("incidents/<int:pk>/status", views.incident_status, name="incident-status"),
    path("incidents/<int:pk>/timeline", views.timeline_add, name="timeline-add"),
    path("incidents/<int:pk>/timeline/<int:entry_id>", views.timeline_edit, name="timeline-edit"),
    path("incidents/<int:pk>/coe", coe_views.coe_start_view, name="coe-start"),
    path("coes/", coe_views.coe_list, name="coe-list"),
    path("teams/<slug:name>/coe-settings", team_settings.coe_settings, name="coe-settings"),
    path("coes/<int:pk>/", coe_views.coe_detail, name="coe-detail"),
    path("coes/<int:pk>/export.md", coe_views.coe_export, name="coe-export"),
    path("coes/<int:pk>/history", coe_views.coe_history, name="coe-history"),
    path("coes/<int:pk>/comments", coe_views.coe_comment, name="coe-comment"),
    path("coes/<int:pk>/review", coe_views.coe_review, name="coe-review"),
    path("coes/<int:pk>/edit", coe_edit_views.coe_edit, name="coe-edit"),
    path("coes/<int:pk>/fields/<str:field>", coe_edit_views.coe_field_save, name="coe-field"),
    path("coes/<int:pk>/whys", coe_edit_views.coe_whys_save, name="coe-whys"),
    path("coes/<int:pk>/action-items", coe_edit_views.action_item_add, name="coe-item-add"),
    path(
        "coes/<int:pk>/action-items/<int:item_id>/delete",
        coe_edit_views.action_item_delete,
        name="coe-item-delete",
    ),
    path("coes/<int:pk>/findings", coe_edit_views.finding_ack, name="coe-finding-ack"),
    path("coes/<int:pk>/preview", coe_edit_views.markdown_preview, name="coe-preview"),
    path(
        "action-items/",
        section_page("Action items", "COE action items and their reminders"),
        name="action-item-list",
    ),
]
