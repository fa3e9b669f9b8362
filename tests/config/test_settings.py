"""Settings come from the environment and fail loudly when production is missing one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "TESTING", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_secret_key_is_required_when_debug_is_off() -> None:
    result = run("import config.settings", TESTING="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_gives_a_development_key() -> None:
    result = run("import config.settings as s; print(s.DEBUG, 'insecure' in s.SECRET_KEY)", DEBUG="1", TESTING="0")
    assert result.stdout.split() == ["True", "True"]


def test_database_and_cache_urls() -> None:
    code = (
        "import config.settings as s; print(s.DATABASES['default']['ENGINE']); "
        "print(s.CACHES['default']['BACKEND'])"
    )
    result = run(
        code, DEBUG="1", TESTING="0", DATABASE_URL="postgres://u@127.0.0.1:5432/x", CACHE_URL="redis://127.0.0.1:6379/1"
    )
    assert result.stdout.split() == ["django.db.backends.postgresql", "django.core.cache.backends.redis.RedisCache"]
    default = run(code, DEBUG="1", TESTING="0")
    assert default.stdout.split() == ["django.db.backends.sqlite3", "django.core.cache.backends.locmem.LocMemCache"]


def test_a_bad_boolean_is_a_clear_error() -> None:
    result = run("import config.settings", DEBUG="maybe", TESTING="0")
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_check_deploy_has_no_warnings_with_production_settings() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k not in {"DEBUG", "TESTING"}},
             "SECRET_KEY": "a" * 20 + "Z9-x" * 12, "ALLOWED_HOSTS": "egm.example.org", "TESTING": "0"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
