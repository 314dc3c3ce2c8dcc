"""The admin site, open to superusers and to lab admins (who see only their labs' users and memberships)."""

from django.contrib import admin

from alllab.accounts.selectors import user_is_lab_admin


class LabAdminSite(admin.AdminSite):
    """Django's admin, where "may enter" means superuser or lab admin, not ``is_staff``."""

    site_header = "ALL-Lab administration"
    site_title = "ALL-Lab admin"
    index_title = "Lab administration"

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or user_is_lab_admin(user=user))
