"""The admin app with the portal's admin site (config.admin_site: the optional two-factor login)."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    default_site = "config.admin_site.PortalAdminSite"
