"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "alllab.accounts"
    label = "accounts"
    verbose_name = "Labs and users"
