from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "coe_portal.accounts"
    label = "accounts"
    verbose_name = "Teams and services"
