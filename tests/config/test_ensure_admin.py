from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_creates_the_admin_once_with_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_USERNAME", "curator")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-test-password")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert "curator" in out.getvalue() and "a-long-test-password" not in out.getvalue()
    user = get_user_model().objects.get(username="curator")
    assert user.check_password("a-long-test-password") and user.is_superuser

    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert "already exists" in again.getvalue()
    assert get_user_model().objects.count() == 1


def test_prints_a_random_password_that_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().strip().rsplit(" / ", 1)[1]
    assert get_user_model().objects.get(username="admin").check_password(password)
