"""All settings, read from the environment (see README, "Configuration")."""

from __future__ import annotations

import importlib.util
import os
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# Django's generic classes (ModelForm, ModelAdmin, QuerySet, ...) take type arguments at run
# time too, as the type checker reads them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string from the environment; `NAME_FILE` (a path) wins, for Docker secrets."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The test suite runs with DEBUG off (as production does) and needs no secret of its own.
TESTING = env_bool("TESTING", "pytest" in sys.modules)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if TESTING:
        SECRET_KEY = "tests-only-key-" + "x" * 50
    elif not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production needs a long random value, e.g. "
            "`export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')`; "
            "for local development set DEBUG=1 instead (as `make run` does)."
        )
    else:
        SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG or TESTING else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Before the admin: its translation fields (name_en, name_fr, ...) in the admin's forms.
    "modeltranslation",
    "config.apps.PortalAdminConfig",  # django.contrib.admin with the two-factor login
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",  # sitemap.xml (portal/sitemaps.py)
    "django.contrib.postgres",
    "rest_framework",
    "rules",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_filters",
    "drf_spectacular",
    "corsheaders",
    "django_countries",
    "simple_history",
    "django_tasks",
    "django_tasks_db",
    "studies",
    "evidence",
    "portal",
    "api",
    "interchange",
]

MIDDLEWARE = [
    # /healthz and /readyz, before the host check and the HTTPS redirect (config/health.py).
    "config.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.routers.ReplicaReadsMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A published map's page and data.json, kept whole per map version for its readers.
    "portal.middleware.ReaderCacheMiddleware",
    # Below WhiteNoise, which serves static files pre-compressed: pages and JSON are
    # compressed here (a map's data.json shrinks about tenfold).
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The reader's language: the language cookie (set by the switcher), else Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Anonymous clients of data.json and the downloads (the reader cache's replays never get here).
    "config.throttling.ReaderThrottleMiddleware",
    # Which copy of a map a request reads: a release, or the working copy (portal.releases).
    "portal.releases.ReleaseMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: answers a locked-out login attempt (see "Accounts" in the README).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],  # the admin's login page
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite inside the project by default, so `make run` needs no server.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Optional read replica: anonymous readers' queries go there (config/routers.py).
if env_str("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        env_str("DATABASE_REPLICA_URL"), conn_max_age=env_int("CONN_MAX_AGE", 60), conn_health_checks=True
    )
    # Tests read the replica as the primary itself (there is no replication in a test run).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
# A release being read (evidence.releases) takes its models' reads first; the replica the rest.
DATABASE_ROUTERS = ["evidence.releases.router.ReleaseRouter"]
if "replica" in DATABASES:
    DATABASE_ROUTERS.append("config.routers.ReplicaRouter")
# Where releases are materialised for reading (SQLite files, rebuilt from the database when
# missing, so any local disk will do; each worker process opens them read-only).
RELEASE_CACHE_DIR = Path(env_str("RELEASE_CACHE_DIR", str(BASE_DIR / ".release-cache")))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Background tasks (imports started in the admin): stored in the database and run by
# `manage.py db_worker`, a process of its own (docker-compose's `worker`). TASKS_BACKEND may name
# django_tasks.backends.immediate.ImmediateBackend to run them in the web process instead.
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}


# The local-memory cache holds every cell fit of a map (evidence.synthesis.pooling), so it needs
# room for a real map's thousands of cells rather than Django's default of 300 entries.
LOCMEM: dict[str, object] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 50_000}}


def _cache_from_url(url: str) -> dict[str, object]:
    if not url:
        return LOCMEM
    scheme = urlparse(url).scheme
    if scheme in {"redis", "rediss", "unix"}:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if scheme == "locmem":
        return LOCMEM
    if scheme == "dummy":
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    raise ImproperlyConfigured(f"CACHE_URL scheme {scheme!r} is not supported; use redis://, locmem:// or dummy://.")


CACHES = {"default": _cache_from_url(env_str("CACHE_URL"))}

# Roles per map (evidence.roles) answer object permissions through rules' backend; model
# permissions (users, groups, import jobs, creating maps) through Django's.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before any check
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Lock-out after repeated failed logins (django-axes): AXES_FAILURE_LIMIT failures from one
# address or for one username lock that address or username for AXES_COOLOFF_MINUTES. Failures
# are counted in the database, which every process shares (in the shared cache with Redis).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# Behind a proxy every login would come from the proxy's address: count the client's instead.
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
AXES_VERBOSE = False
AXES_HANDLER = (
    "axes.handlers.cache.AxesCacheHandler" if urlparse(env_str("CACHE_URL")).scheme in {"redis", "rediss", "unix"}
    else "axes.handlers.database.AxesDatabaseHandler"
)

# Only staff sign in (readers are anonymous): a session lasts SESSION_HOURS from its last change.
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 4) * 3600
SESSION_COOKIE_HTTPONLY = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
# The interface's languages (README, "Languages"): English is the source, French the proof
# that everything is translatable. A map's own texts (names, descriptions, summaries) have one
# column per language (evidence/translation.py); English is the original they fall back to.
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Plotly's JavaScript is served from the plotly package itself: no CDN, no copy in the repo.
STATICFILES_DIRS = [
    ("vendor/plotly", Path(importlib.util.find_spec("plotly").origin).parent / "package_data"),  # type: ignore[arg-type, union-attr]
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "config.storage.StaticFilesStorage"
        )
    },
}

# Development and tests serve static files straight from the apps' folders; production
# serves the hashed, compressed copies that collectstatic writes to STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING

LOGIN_URL = "admin:login"

# Security: HTTPS settings are on whenever DEBUG is off (outside tests); SECURE_SSL_REDIRECT
# can be turned off for a deployment whose proxy already redirects.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
_HTTPS = not (DEBUG or TESTING)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _HTTPS
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Request bodies (forms, and the API's JSON: api/parsers.py) up to this size; larger ones are
# refused (the API answers 413). File uploads (imports in the admin) do not count.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_BYTES", 2_621_440)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.MapRolePermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Writes take JSON only (as documented; one body type keeps generated clients simple), with
    # a depth limit (api.parsers).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": env_str("API_ANON_RATE", "120/minute")},
    # How many proxies in front of the portal append to X-Forwarded-For; the client is the address
    # the outermost of them saw. 0 (the default): X-Forwarded-For is ignored, since any client can
    # send one; docker-compose sets 1 (Caddy).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
}

# data.json and the downloads, for anonymous clients (config/throttling.py): no person meets it.
READER_ANON_RATE = env_str("READER_ANON_RATE", "600/minute")

# API tokens (api.tokens): issued for API_TOKEN_DAYS, at most API_TOKEN_MAX_DAYS.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 90)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)

SPECTACULAR_SETTINGS = {
    "TITLE": "Evidence and gap map portal API",
    "DESCRIPTION": (
        "Published maps, studies, effect sizes and pooled cells for anyone; reviewers with a "
        "token also read drafts and add, change or delete studies and effect sizes."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Ids in paths are integers, as they are in bodies (api.urls.IdConverter: up to 9 digits).
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 999_999_999}},
    # One named enum per list of choices, wherever it is used (api.schema.postprocess also
    # merges the presenter's lists of the same values into these).
    "ENUM_NAME_OVERRIDES": {
        "StudyDesign": "studies.models.StudyDesign",
        "ConfidenceLevel": "studies.models.Confidence",
        "StudyStatus": "studies.models.Status",
        "Region": "studies.models.Region",
        "InputKind": "studies.models.InputKind",
        "EffectDirection": "studies.models.EffectDirection",
        "PoolingMethod": "evidence.models.PoolingMethod",
        "PoolingTest": "evidence.models.PoolingTest",
        "EffectLabelPreset": "evidence.models.EffectLabelPreset",
        "DesirableDirection": "evidence.models.Direction",
        "EffectBand": "evidence.synthesis.presenter.BANDS",
        "EffectLabelDirection": "evidence.synthesis.presenter.LABEL_DIRECTIONS",
        "CellConfidenceLevel": "evidence.synthesis.presenter.LEVELS",
        "CellModel": "evidence.synthesis.presenter.MODELS",
        "CellVcov": "evidence.synthesis.presenter.VCOVS",
        "I2Definition": "evidence.synthesis.presenter.I2_CODES",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.postprocess"],
}

CORS_URLS_REGEX = r"^/api/v1/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]
CORS_EXPOSE_HEADERS = [
    "ETag", "Last-Modified", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
    "Token-Ignored",
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
