from __future__ import annotations

from django.urls import path

from incidents.action_items import api as action_item_api
from incidents.action_items import calendar
from incidents.action_items import views as action_item_views
from incidents.analytics import views as analytics_views
from incidents.coe import api as coe_api
from incidents.coe import edit_views as coe_edit_views
from incidents.coe import team_settings
from incidents.coe import views as coe_views
from incidents.incident import api, views
from incidents.reminders import views as reminder_views

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
    path("api/v1/coes", coe_api.coe_list_api, name="api-coes"),
    path("api/v1/coes/<int:pk>", coe_api.coe_detail_api, name="api-coe"),
    path("api/v1/action-items", action_item_api.action_item_list_api, name="api-action-items"),
    path("incidents/", views.incident_list, name="incident-list"),
    path("incidents/new/", views.incident_create, name="incident-create"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
    path("incidents/<int:pk>/edit", views.incident_edit_view, name="incident-edit"),
    path("incidents/<int:pk>/status", views.incident_status, name="incident-status"),
    path("incidents/<int:pk>/timeline", views.timeline_add, name="timeline-add"),
    path("incidents/<int:pk>/timeline/<int:entry_id>", views.timeline_edit, name="timeline-edit"),
    path("incidents/<int:pk>/coe", coe_views.coe_start_view, name="coe-start"),
    path("analytics/", analytics_views.analytics_page, name="analytics"),
    path("analytics/<slug:chart>.csv", analytics_views.analytics_csv, name="analytics-csv"),
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
    path("action-items/", action_item_views.my_items, name="action-item-list"),
    path("action-items/all", action_item_views.item_list, name="action-item-all"),
    path(
        "action-items/overdue",
        action_item_views.item_list,
        {"overdue": True},
        name="action-item-overdue",
    ),
    path("action-items/calendar.ics", calendar.calendar_feed, name="action-item-ics"),
    path("action-items/board/<slug:name>", action_item_views.team_board, name="action-board"),
    path("action-items/<int:pk>/", action_item_views.item_detail, name="action-item-detail"),
    path("action-items/<int:pk>/status", action_item_views.item_status, name="action-status"),
    path("action-items/<int:pk>/due", action_item_views.item_due, name="action-due"),
    path("action-items/<int:pk>/snooze", action_item_views.item_snooze_view, name="action-snooze"),
    path("notifications/", reminder_views.notifications, name="notifications"),
    path(
        "preferences/reminders",
        reminder_views.reminder_preferences,
        name="reminder-preferences",
    ),
]
