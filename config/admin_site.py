"""The admin site with an optional second factor: a staff member who has set up an
authenticator app (a confirmed TOTP device, django-otp) gives its code at login, and the admin
lets them in only once that code was checked; everyone else logs in with the password alone."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django_otp import user_has_device
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice


class OptionalOTPLoginForm(OTPAdminAuthenticationForm):  # type: ignore[misc]
    """The password, then the code for users with a device; no code asked of the others."""

    def clean_otp(self, user: Any) -> None:
        if user is not None and user_has_device(user):
            super().clean_otp(user)

    def _chosen_device(self, user: Any) -> Any:
        # The page asks for one code, not for a device: the user's own authenticator app.
        chosen = super()._chosen_device(user)
        return chosen or TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("pk").first()


class PortalAdminSite(AdminSite):
    login_form = OptionalOTPLoginForm
    login_template = "admin/two_factor_login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        if not super().has_permission(request):
            return False
        return bool(user.is_verified() or not user_has_device(user))
