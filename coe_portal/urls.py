"""Root URLs: UI pages need a login (LoginRequiredMiddleware); probes, /metrics and the bearer
token API opt out view by view."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from coe_portal import health, views
from coe_portal.accounts import views as account_views
from coe_portal.observability.views import metrics_view

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/whoami", account_views.whoami, name="api-whoami"),
    path("", include("coe_portal.accounts.urls")),
    path("", include("metrics.urls")),
    path("", include("incidents.urls")),
]

handler404 = "coe_portal.views.not_found"
handler500 = "coe_portal.views.server_error"
