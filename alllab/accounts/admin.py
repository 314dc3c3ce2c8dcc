"""Admin pages for labs, users and memberships, scoped so a lab admin manages only the labs they administer."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from alllab.accounts.models import ADMIN_ROLES, Lab, Membership
from alllab.accounts.selectors import lab_ids_for_user
from alllab.accounts.services import membership_create

User = get_user_model()


def _admin_lab_ids(request) -> list[int]:
    return lab_ids_for_user(user=request.user, roles=ADMIN_ROLES)


class LabScopedPermissions:
    """Model-admin permissions for lab admins: full rights, but only over rows of the labs they administer."""

    def _is_lab_admin(self, request) -> bool:
        return bool(_admin_lab_ids(request))

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser or self._is_lab_admin(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser or self._is_lab_admin(request)

    has_change_permission = has_view_permission
    has_add_permission = has_view_permission
    has_delete_permission = has_view_permission


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]


class MembershipInline(LabScopedPermissions, admin.TabularInline):
    model = Membership
    extra = 0

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(lab_id__in=_admin_lab_ids(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "lab" and not request.user.is_superuser:
            kwargs["queryset"] = Lab.objects.filter(id__in=_admin_lab_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Membership)
class MembershipAdmin(LabScopedPermissions, admin.ModelAdmin):
    list_display = ["user", "lab", "role", "created_at"]
    list_filter = ["role", "lab"]
    search_fields = ["user__username", "lab__name"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("user", "lab")
        return qs if request.user.is_superuser else qs.filter(lab_id__in=_admin_lab_ids(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            if db_field.name == "lab":
                kwargs["queryset"] = Lab.objects.filter(id__in=_admin_lab_ids(request))
            elif db_field.name == "user":
                kwargs["queryset"] = User.objects.filter(is_superuser=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class LabUserAdmin(LabScopedPermissions, UserAdmin):
    """Users; a lab admin sees the members of their labs, and a user they add joins their first lab as technician."""

    inlines = [MembershipInline]
    limited_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Status", {"fields": ("is_active", "last_login", "date_joined")}),
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(is_superuser=False, memberships__lab_id__in=_admin_lab_ids(request)).distinct()

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            return self.limited_fieldsets  # no superuser, staff, groups or permissions for lab admins to grant
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return ("last_login", "date_joined") if obj is not None and not request.user.is_superuser else ()

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and not request.user.is_superuser:
            labs = _admin_lab_ids(request)
            membership_create(user=obj, lab=Lab.objects.get(id=labs[0]), role=Membership.Role.TECHNICIAN)
