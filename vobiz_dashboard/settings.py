"""Settings, read from the environment (and an optional `.env` file in the project folder)."""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
import phonenumbers
import redis
from babel.numbers import list_currencies
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# Real environment variables win over the .env file.
load_dotenv(BASE_DIR / ".env", override=False)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_flag(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


DEBUG = env_flag("DJANGO_DEBUG", False)

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or DEVELOPMENT_SECRET_KEY
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a long random value when DJANGO_DEBUG is off "
        "(or set DJANGO_DEBUG=1 for development)."
    )
# Former keys, after a rotation: what they signed (sessions, the audit events' HMACs) still checks.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", "")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tables2",
    "axes",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "recordings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "recordings.sessions.SessionRefreshMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "recordings.time_zones.ViewerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-in while a user or address is locked out
    "recordings.auth.RoleBackend",  # ModelBackend, reading a user's permissions in one query
]

ROOT_URLCONF = "vobiz_dashboard.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "recordings.context_processors.sync_status",
                "recordings.context_processors.overdue_requests",
            ],
        },
    },
]

WSGI_APPLICATION = "vobiz_dashboard.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while a sync writes; the timeout lets writers queue.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parallel workers only where a query reads much: starting them took 14-40 ms on a 2-CPU
    # server, against 0.7 ms for a ranked search of 624 transcripts run alone, whose
    # planner chose them at the default cost of 1,000. At 10,000 a count of millions still gets
    # them (docs/performance.md, "10 million").
    options = DATABASES["default"].setdefault("OPTIONS", {})
    if "parallel_setup_cost" not in options.get("options", ""):
        options["options"] = f"{options.get('options', '')} -c parallel_setup_cost=10000".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "recordings:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Numbers written without a country code are read as this region's (ISO 3166 code, e.g. IN, GB, US).
PHONE_REGION = os.environ.get("PHONE_REGION", "IN").strip().upper()
if PHONE_REGION not in phonenumbers.SUPPORTED_REGIONS:
    raise ImproperlyConfigured(f"PHONE_REGION must be a two-letter region code such as IN or GB, not {PHONE_REGION!r}")

# The currency the Vobiz account is billed in (ISO 4217): storage amounts and rates are shown in it.
BILLING_CURRENCY = os.environ.get("BILLING_CURRENCY", "INR").strip().upper()
if BILLING_CURRENCY not in list_currencies():
    raise ImproperlyConfigured(f"BILLING_CURRENCY must be a currency code such as INR or USD, not {BILLING_CURRENCY!r}")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DJANGO_TABLES2_TEMPLATE = "tables/table.html"

# Vobiz
VOBIZ_AUTH_ID = os.environ.get("VOBIZ_AUTH_ID", "")
VOBIZ_AUTH_TOKEN = os.environ.get("VOBIZ_AUTH_TOKEN", "")
VOBIZ_API_URL = os.environ.get("VOBIZ_API_URL", "https://api.vobiz.ai/api/v1").rstrip("/")
VOBIZ_MEDIA_HOSTS = env_list("VOBIZ_MEDIA_HOSTS", "*.vobiz.ai")
# Callbacks: signatures are checked against this base URL (Vobiz signs the URL it called), with
# the account's token, and with the parent account's token for a sub-account's MA- signatures.
DASHBOARD_PUBLIC_URL = os.environ.get("DASHBOARD_PUBLIC_URL", "").strip().rstrip("/")
VOBIZ_PARENT_AUTH_TOKEN = os.environ.get("VOBIZ_PARENT_AUTH_TOKEN", "")
# A callback's recording is asked of the API again for this long while Vobiz answers "not found"
# (its API may know a recording after the callback) or is down; then the fetch shows as failed.
CALLBACK_FETCH_PATIENCE_MINUTES = env_int("CALLBACK_FETCH_PATIENCE_MINUTES", 60)
if not 0 <= CALLBACK_FETCH_PATIENCE_MINUTES <= 1440:  # a day: Vobiz that lags longer is a sync's work
    raise ImproperlyConfigured(
        "CALLBACK_FETCH_PATIENCE_MINUTES must be from 0 (one try) to 1440 (a day), "
        f"not {CALLBACK_FETCH_PATIENCE_MINUTES}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "recordings": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    },
}

# How many proxies in front of the dashboard append the address they were connected from to
# X-Forwarded-For; the client's address is the one the outermost of them saw (recordings.audit_trail).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if "TRUST_X_FORWARDED_FOR" in os.environ:
    raise ImproperlyConfigured(
        "TRUST_X_FORWARDED_FOR is no longer read, as it trusted whatever a client wrote: set "
        "TRUSTED_PROXY_COUNT to the number of proxies in front of the dashboard (1 for one)."
    )

# Counts, limits and the filter forms' rendered HTML ({% cache %}), the forms apart so that a run
# of different searches does not push the counts out: each process keeps its own, or with
# REDIS_URL set they are shared in Redis (below).
CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"},
    "template_fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "template-fragments",
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
    # Forms with a search typed in: one entry a search, holding what was searched for, so always in
    # the process's own bounded memory, never in Redis.
    "searched_fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "searched-fragments",
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
}

# Limits on what one user can take at once (see recordings/concurrency.py) or in one go.
# Audio streams and ZIP downloads open at once: above the 6 connections a browser opens to a host
# over HTTP/1.1, so one browser never meets it there.
STREAMS_PER_USER = env_int("STREAMS_PER_USER", 8)
CSV_EXPORT_MAX_ROWS = env_int("CSV_EXPORT_MAX_ROWS", 100_000)
CDR_NOT_FOUND_SECONDS = 60  # a call without a CDR (unknown, or still in progress) is asked again after this
# A data-subject request is due this many days after it is opened, unless its opener sets another date.
DSR_DUE_DAYS = env_int("DSR_DUE_DAYS", 30)
if not 1 <= DSR_DUE_DAYS <= 365:
    raise ImproperlyConfigured(f"DSR_DUE_DAYS must be between 1 and 365 days, not {DSR_DUE_DAYS}")
# Call records one user may ask Vobiz for again within an hour (each asking is in the audit log).
CALL_RECORD_REFRESHES_PER_HOUR = env_int("CALL_RECORD_REFRESHES_PER_HOUR", 20)
if CALL_RECORD_REFRESHES_PER_HOUR < 1:
    raise ImproperlyConfigured(
        f"CALL_RECORD_REFRESHES_PER_HOUR must be 1 or more, not {CALL_RECORD_REFRESHES_PER_HOUR}"
    )

# Background work (Sync now, deletion batches, scheduled syncs, callbacks' fetches) runs on Django's
# task framework: queued in the database and run by `manage.py db_worker`, or with REDIS_URL set
# queued in Redis and run by `manage.py rqworker --with-scheduler --job-class django_tasks_rq.Job`
# on any number of machines (--with-scheduler: delayed work, a fetch's next try, comes back).
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    # Never the URL itself in the message, which may hold a password.
    if urlsplit(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured("REDIS_URL must be a redis://, rediss:// or unix:// URL")
    try:
        # Read now as redis-py reads it on each connection, so that a bad port fails here, not each page.
        redis_parts = redis.connection.parse_url(REDIS_URL)
    except ValueError:
        raise ImproperlyConfigured(
            "REDIS_URL cannot be read: check its port (a number up to 65535), database and options"
        ) from None
    if urlsplit(REDIS_URL).scheme != "unix" and urlsplit(REDIS_URL).path.strip("/") and "db" not in redis_parts:
        # redis-py would quietly use database 0.
        raise ImproperlyConfigured("REDIS_URL's path must be a database number, as in redis://host:6379/1")
# `manage.py run_scheduler` queues an incremental sync this often (0: never) and a full one weekly.
SYNC_EVERY_MINUTES = env_int("SYNC_EVERY_MINUTES", 5)
if SYNC_EVERY_MINUTES < 0:
    raise ImproperlyConfigured(f"SYNC_EVERY_MINUTES must be 0 (off) or more, not {SYNC_EVERY_MINUTES}")
# Retention rules run daily at RETENTION_HOUR (0-23, in TIME_ZONE), each run deleting at most
# RETENTION_MAX_PER_RUN recordings; a new or widened rule first waits RETENTION_GRACE_DAYS for a
# second auditor's approval.
RETENTION_HOUR = env_int("RETENTION_HOUR", 2)
if not 0 <= RETENTION_HOUR <= 23:
    raise ImproperlyConfigured(f"RETENTION_HOUR must be an hour from 0 to 23, not {RETENTION_HOUR}")
RETENTION_MAX_PER_RUN = env_int("RETENTION_MAX_PER_RUN", 10_000)
if RETENTION_MAX_PER_RUN < 1:
    raise ImproperlyConfigured(f"RETENTION_MAX_PER_RUN must be 1 or more, not {RETENTION_MAX_PER_RUN}")
RETENTION_GRACE_DAYS = env_int("RETENTION_GRACE_DAYS", 7)
if RETENTION_GRACE_DAYS < 0:
    raise ImproperlyConfigured(f"RETENTION_GRACE_DAYS must be 0 or more, not {RETENTION_GRACE_DAYS}")
if REDIS_URL:
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    # RQ stops a job after DEFAULT_TIMEOUT seconds (180 unless set): a full walk of a large account
    # takes hours, and the sync's own lock already bounds a stuck one.
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 24 * 60 * 60}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    # While Redis does not answer, each process uses its own memory as without it.
    CACHES |= {
        name: {
            "BACKEND": "recordings.shared_cache.FallbackRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": name,
            "FALLBACK_OPTIONS": local.get("OPTIONS", {}),
        }
        for name, local in CACHES.items()
        if name != "searched_fragments"
    }
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# Security. HTTPS settings are the operator's to turn on, for deployments behind TLS.
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_flag("DJANGO_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_flag("DJANGO_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_flag("DJANGO_HSTS_PRELOAD", False)
if env_flag("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Signed out after this long without a request. Requests push it back, at most every
# SESSION_REFRESH_SECONDS (a session write: see recordings/sessions.py), so a session ends up
# to that much earlier than SESSION_IDLE_MINUTES after its last request.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 8 * 60) * 60
SESSION_REFRESH_SECONDS = min(5 * 60, SESSION_COOKIE_AGE // 10)

# Nothing from outside the dashboard: pages need no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Failed sign-ins: after 5 for one username from one address, that pair waits 15 minutes. Per
# pair, so that nobody can lock someone out by typing their name from elsewhere.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "recordings.audit_trail.client_ip"  # the address the audit log records
