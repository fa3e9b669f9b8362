"""The admin site with an optional second factor: a staff member who has set up an
authenticator app (a confirmed TOTP device, django-otp) gives its code at login, and the admin
lets them in only once that code was checked; everyone else logs in with the password alone."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
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

    def get_urls(self) -> list[URLResolver | URLPattern]:
        own: list[URLResolver | URLPattern] = [
            path("two-factor/", self.admin_view(self.two_factor_view), name="two_factor"),
        ]
        return own + super().get_urls()

    def two_factor_view(self, request: HttpRequest) -> HttpResponse:
        """Each staff member turns their own second factor on (with a code from the app, so a
        mistyped key never locks them out) or off (with a code too)."""
        user: Any = request.user
        confirmed = TOTPDevice.objects.devices_for_user(user, confirmed=True).first()
        pending = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
        if request.method == "POST":
            device = confirmed or pending
            if device is None:
                TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=False)
            elif not device.verify_token(request.POST.get("code", "").strip()):
                messages.error(request, "That code is not the app's current one; nothing changed.")
            elif confirmed is not None:
                TOTPDevice.objects.devices_for_user(user, confirmed=None).delete()
                messages.success(request, "Two-factor login is off: your password alone signs you in.")
            else:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                messages.success(request, "Two-factor login is on: sign-ins ask for the app's code.")
            return HttpResponseRedirect(reverse("admin:two_factor"))
        context = {
            **self.each_context(request), "title": "Two-factor login", "confirmed": confirmed, "pending": pending,
            "secret": base64.b32encode(pending.bin_key).decode() if pending else "",
            "config_url": pending.config_url if pending else "",
        }
        return TemplateResponse(request, "admin/two_factor.html", context)
