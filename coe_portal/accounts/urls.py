from __future__ import annotations

from django.urls import path

from coe_portal.accounts import views

app_name = "accounts"

urlpatterns = [
    path("teams/", views.team_list, name="team-list"),
    path("teams/<slug:name>/", views.team_detail, name="team-detail"),
    path("teams/<slug:name>/tokens/", views.token_list, name="token-list"),
    path(
        "teams/<slug:name>/tokens/<int:token_id>/revoke/",
        views.token_revoke,
        name="token-revoke",
    ),
    path("services/", views.service_list, name="service-list"),
    path("services/<slug:name>/", views.service_detail, name="service-detail"),
]
