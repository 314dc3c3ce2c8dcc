"""``django.contrib.admin`` bound to the lab-scoped admin site (the Django docs' way to replace ``admin.site``)."""

from django.contrib.admin.apps import AdminConfig


class LabAdminConfig(AdminConfig):
    """Makes ``admin.site`` a :class:`~alllab.accounts.admin_site.LabAdminSite`."""

    default_site = "alllab.accounts.admin_site.LabAdminSite"
