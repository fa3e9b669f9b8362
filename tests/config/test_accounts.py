"""Accounts: lock-out after repeated failed logins, short staff sessions, and the optional
second factor (TOTP) on the admin login."""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def login(client: Client, username: str, password: str, code: str = "") -> Any:
    return client.post(LOGIN, {"username": username, "password": password, "otp_token": code,
                               "next": "/admin/"})


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_repeated_failures_lock_the_login_out_even_with_the_right_password(client: Client) -> None:
    UserFactory(username="ana", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "ana", "wrong").status_code == 200  # the form again, with its error
    assert login(client, "ana", "wrong").status_code == 429  # the last failure allowed locks
    locked = login(client, "ana", "pw-for-tests")
    assert locked.status_code == 429
    assert not signed_in(client)


def test_a_success_before_the_limit_clears_the_failures(client: Client) -> None:
    UserFactory(username="ana", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, "ana", "wrong")
    assert login(client, "ana", "pw-for-tests").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, "ana", "wrong")
    assert login(client, "ana", "pw-for-tests").status_code == 302


def test_staff_sessions_last_hours_not_weeks(client: Client) -> None:
    assert settings.SESSION_COOKIE_AGE == 4 * 3600
    UserFactory(username="ana", is_staff=True)
    login(client, "ana", "pw-for-tests")
    assert client.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 4 * 3600


# --- Two-factor login --------------------------------------------------------------------------


def totp(key_hex: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """RFC 6238's time-based one-time password (HMAC-SHA1), computed here independently."""
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = (struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return str(number).zfill(digits)


def test_the_rfc_6238_reference_value() -> None:
    # RFC 6238, appendix B: the SHA-1 secret "12345678901234567890" at T = 59 s gives 94287082.
    assert totp(b"12345678901234567890".hex(), at=59, digits=8) == "94287082"


@pytest.fixture
def with_device() -> tuple[Any, TOTPDevice]:
    user = UserFactory(username="ana", is_staff=True)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user, device


def test_a_user_with_an_authenticator_needs_its_code(client: Client, with_device: tuple[Any, TOTPDevice]) -> None:
    _, device = with_device
    page = login(client, "ana", "pw-for-tests")
    assert page.status_code == 200 and not signed_in(client)
    assert "OTP token" in " ".join(page.context["form"].non_field_errors())
    wrong = str((int(totp(device.key)) + 1) % 1_000_000).zfill(6)
    assert login(client, "ana", "pw-for-tests", wrong).status_code == 200
    assert not signed_in(client)
    # A wrong code slows the next tries down (django-otp's throttling): even the right code waits.
    assert login(client, "ana", "pw-for-tests", totp(device.key)).status_code == 200
    device.refresh_from_db()
    device.throttle_reset()
    assert login(client, "ana", "pw-for-tests", totp(device.key)).status_code == 302
    assert signed_in(client)


def test_the_admin_refuses_a_session_of_a_user_with_an_authenticator_that_skipped_it(
    client: Client, with_device: tuple[Any, TOTPDevice]
) -> None:
    user, _ = with_device
    client.force_login(user)  # a session without the second step
    assert client.get("/admin/").status_code == 302


def test_a_user_without_an_authenticator_logs_in_with_the_password(client: Client) -> None:
    UserFactory(username="bo", is_staff=True)
    assert login(client, "bo", "pw-for-tests").status_code == 302
    assert signed_in(client)


def test_an_unconfirmed_device_asks_for_nothing_yet(client: Client) -> None:
    user = UserFactory(username="cy", is_staff=True)
    TOTPDevice.objects.create(user=user, name="being set up", confirmed=False)
    assert login(client, "cy", "pw-for-tests").status_code == 302


def test_the_login_page_offers_the_code_box() -> None:
    page = Client().get(reverse("admin:login"))
    assert 'name="otp_token"' in page.content.decode() and 'autocomplete="one-time-code"' in page.content.decode()


def test_behind_trusted_proxies_each_client_is_locked_out_on_its_own(client: Client, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.AXES_LOCKOUT_PARAMETERS = ["ip_address"]
    UserFactory(username="ana", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "ana", "password": "wrong"}, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert client.post(LOGIN, {"username": "ana", "password": "pw-for-tests"},
                       HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    other = Client()
    assert other.post(LOGIN, {"username": "ana", "password": "pw-for-tests", "next": "/admin/"},
                      HTTP_X_FORWARDED_FOR="198.51.100.4").status_code == 302


def test_without_trusted_proxies_a_forged_forwarded_address_changes_nothing(client: Client, settings: Any) -> None:
    settings.AXES_LOCKOUT_PARAMETERS = ["ip_address"]
    UserFactory(username="ana", is_staff=True)
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "ana", "password": "wrong"}, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert client.post(LOGIN, {"username": "ana", "password": "pw-for-tests"},
                       HTTP_X_FORWARDED_FOR="198.51.100.4").status_code == 429


def test_a_staff_member_turns_two_factor_login_on_and_off_with_real_codes(client: Client) -> None:
    UserFactory(username="di", is_staff=True)
    assert login(client, "di", "pw-for-tests").status_code == 302
    url = reverse("admin:two_factor")
    assert "is <strong>off</strong>" in client.get(url).content.decode()
    client.post(url)  # set up: a key to add to the app, not yet in force
    device = TOTPDevice.objects.get(user__username="di")
    assert not device.confirmed and client.get(url).context["config_url"].startswith("otpauth://totp/")
    client.post(url, {"code": "000000" if totp(device.key) != "000000" else "111111"})
    device.refresh_from_db()
    assert not device.confirmed  # a wrong code changes nothing
    device.throttle_reset()
    client.post(url, {"code": totp(device.key)})
    device.refresh_from_db()
    assert device.confirmed
    # From now on the password alone is not enough. (A code serves once: between uses here,
    # the device is told a new 30-second step has come, as it would have in real time.)
    client.logout()
    assert login(client, "di", "pw-for-tests").status_code == 200
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    assert login(client, "di", "pw-for-tests", totp(device.key)).status_code == 302
    # Turning it off needs a code too.
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    client.post(url, {"code": totp(device.key)})
    assert not TOTPDevice.objects.filter(user__username="di").exists()
