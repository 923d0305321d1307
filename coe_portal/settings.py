"""Settings for COE Portal, read from the environment only (12-factor).

Defaults let a fresh clone run on one machine: SQLite in WAL mode and a Celery broker on the
filesystem, both under DATA_DIR. Set DATABASE_URL and CELERY_BROKER_URL for PostgreSQL and Redis.
With DEBUG off (the default) the HTTPS hardening that `manage.py check --deploy` asks for is on.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from coe_portal.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
# prometheus_client writes a file there for each metric as the metric is defined, in every
# process (management commands too): the folder must exist before the first app module loads.
if env_str("PROMETHEUS_MULTIPROC_DIR"):
    Path(env_str("PROMETHEUS_MULTIPROC_DIR")).mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else a random key kept in DATA_DIR (one host only)."""
    key = env_str("SECRET_KEY")
    if key:
        if len(key) < 50:
            raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long")
        return key
    key_file = DATA_DIR / "secret_key"
    try:
        # "x" fails if another process (web, worker, beat) created the file first.
        with open(key_file, "x", encoding="ascii") as handle:
            key_file.chmod(0o600)
            handle.write(secrets.token_urlsafe(64))
    except FileExistsError:
        pass
    return key_file.read_text(encoding="ascii").strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "coe_portal.accounts",
    "metrics",
    "incidents",
]

MIDDLEWARE = [
    "coe_portal.observability.middleware.RequestMetricsMiddleware",
    "coe_portal.health.ProbesAnswerAnyHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "coe_portal.db.DatabaseUnavailableMiddleware",
    "metrics.backends.middleware.BackendUnavailableMiddleware",
    # django-axes must come last: it turns a locked-out login into a 429 page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "coe_portal.urls"
WSGI_APPLICATION = "coe_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "incidents.reminders.context_processors.notifications",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL, else SQLite in WAL mode so the web server, worker and beat can share it.
_default_sqlite = f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _default_sqlite),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 5
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Repeated wrong passwords lock the username + address pair out for a while (answered with 429).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "coe_portal.static_finders.PlotlyFinder",  # vendor/plotly.min.js, from the plotly package
]
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

# Email (reminders and notifications are sent with Django's mail API).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# For django.core.mail.backends.filebased.EmailBackend: one file per connection, in this folder.
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "COE Portal <coe-portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security. With DEBUG off every HTTPS protection is on; each can be switched off on its own
# (e.g. SECURE_SSL_REDIRECT=false behind a proxy that already redirects).
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy: nothing inline, nothing from other origins (the portal works offline).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Celery. Without CELERY_BROKER_URL, a filesystem broker under DATA_DIR needs no server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
    (DATA_DIR / "celery-results").mkdir(exist_ok=True)
    _default_results = f"file://{DATA_DIR / 'celery-results'}"
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 5}
    _default_results = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", _default_results)
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# The one beat schedule: each entry sets `expires` just under its interval.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "metrics-compact": {
        "task": "metrics.storage.compact",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 290},
    },
    "metrics-evaluate-slos": {
        "task": "metrics.slo.evaluate_all",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    "metrics-evaluate-alarms": {
        "task": "metrics.alarms.evaluate_all",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    "metrics-notify-sweep": {
        "task": "metrics.notify.sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    "metrics-retention": {
        "task": "metrics.storage.enforce_retention",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3500},
    },
    "incidents-reminder-pass": {
        "task": "incidents.reminders.pass",
        "schedule": timedelta(minutes=15),
        "options": {"expires": 890},
    },
    "incidents-digest-pass": {
        "task": "incidents.digests.pass",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3500},
    },
    "incidents-reminder-sweep": {
        "task": "incidents.reminders.sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    "metrics-fold-span-metrics": {
        "task": "metrics.traces.fold_span_metrics",
        "schedule": timedelta(seconds=10),
        "options": {"expires": 9},
    },
    "metrics-trace-retention": {
        "task": "metrics.traces.enforce_retention",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3500},
    },
    "metrics-scrape": {
        "task": "metrics.scrape.due_targets",
        "schedule": timedelta(seconds=5),
        "options": {"expires": 4},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Where metrics live (docs/backends.md): "embedded", the portal's own store in the database, or
# "prometheus", any Prometheus HTTP API at METRICS_QUERY_URL (Prometheus, Thanos, Mimir,
# VictoriaMetrics), with intake forwarded as remote write to METRICS_REMOTE_WRITE_URL (none:
# the portal only reads metrics, and its intake says where to send them instead).
METRICS_BACKEND = env_str("METRICS_BACKEND", "embedded").strip().lower()
METRICS_QUERY_URL = env_str("METRICS_QUERY_URL").strip().rstrip("/")
METRICS_REMOTE_WRITE_URL = env_str("METRICS_REMOTE_WRITE_URL").strip()
if METRICS_BACKEND not in {"embedded", "prometheus"}:
    raise ImproperlyConfigured(
        f"METRICS_BACKEND={METRICS_BACKEND!r}: use embedded (the default) or prometheus"
    )
if METRICS_BACKEND == "prometheus" and not METRICS_QUERY_URL:
    raise ImproperlyConfigured(
        "METRICS_BACKEND=prometheus needs METRICS_QUERY_URL, the Prometheus HTTP API to read "
        "(e.g. http://prometheus:9090 or http://victoriametrics:8428)"
    )
# Credentials, TLS and headers sent with every request to the backend (reads and writes).
METRICS_BACKEND_USERNAME = env_str("METRICS_BACKEND_USERNAME")
METRICS_BACKEND_PASSWORD = env_str("METRICS_BACKEND_PASSWORD")
METRICS_BACKEND_BEARER_TOKEN = env_str("METRICS_BACKEND_BEARER_TOKEN")
# "true" (verify against the system's CAs), "false", or the path of a CA bundle.
METRICS_BACKEND_TLS_VERIFY = env_str("METRICS_BACKEND_TLS_VERIFY", "true")
# Extra headers, "Name=value" pairs separated by ";" (e.g. "X-Scope-OrgID=team-a" for Mimir).
METRICS_BACKEND_HEADERS = env_str("METRICS_BACKEND_HEADERS")
METRICS_BACKEND_CONNECT_TIMEOUT_SECONDS = env_float("METRICS_BACKEND_CONNECT_TIMEOUT_SECONDS", 3)
METRICS_QUERY_TIMEOUT_SECONDS = env_float("METRICS_QUERY_TIMEOUT_SECONDS", 30)
METRICS_REMOTE_WRITE_TIMEOUT_SECONDS = env_float("METRICS_REMOTE_WRITE_TIMEOUT_SECONDS", 10)
# Samples per remote-write request to the backend; an intake request holding more is sent in
# several, and answered 2xx only when every one of them is acknowledged.
METRICS_REMOTE_WRITE_MAX_SAMPLES_PER_SEND = env_int(
    "METRICS_REMOTE_WRITE_MAX_SAMPLES_PER_SEND", 20_000
)

# Metrics storage and intake.
METRICS_RETENTION_DAYS = env_int("METRICS_RETENTION_DAYS", 30)
# Intake refuses samples older than the retention or further ahead than this (clock skew).
METRICS_FUTURE_TOLERANCE_SECONDS = env_int("METRICS_FUTURE_TOLERANCE_SECONDS", 600)
TRACES_RETENTION_DAYS = env_int("TRACES_RETENTION_DAYS", 7)
METRICS_MAX_SERIES_PER_TOKEN = env_int("METRICS_MAX_SERIES_PER_TOKEN", 100_000)
# A series stops counting against its token's limit this long after its last sample.
METRICS_ACTIVE_SERIES_MINUTES = env_int("METRICS_ACTIVE_SERIES_MINUTES", 10)
# New series one intake request may create before it is answered 503 "retry" (see writer.py).
METRICS_MAX_NEW_SERIES_PER_REQUEST = env_int("METRICS_MAX_NEW_SERIES_PER_REQUEST", 5_000)
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 16 * 1024 * 1024)
SCRAPE_MAX_BODY_BYTES = env_int("SCRAPE_MAX_BODY_BYTES", 16 * 1024 * 1024)
# The ingest bulkhead (metrics/ingest/limits.py): requests storing at once per process, and how
# many more may wait how long for a slot; by default one web thread stays free for pages.
WEB_THREADS = env_int("WEB_THREADS", 8)  # gunicorn threads per worker (gunicorn_conf.py)
# Measured: benchmarks.capacity (docs/metrics.md, "The ingest bulkhead").
INGEST_MAX_CONCURRENCY = env_int("INGEST_MAX_CONCURRENCY", 4)
INGEST_MAX_WAITING = env_int("INGEST_MAX_WAITING", max(0, WEB_THREADS - INGEST_MAX_CONCURRENCY - 1))
INGEST_MAX_WAIT_MS = env_int("INGEST_MAX_WAIT_MS", 2000)
INGEST_RETRY_AFTER_SECONDS = env_int("INGEST_RETRY_AFTER_SECONDS", 5)
OTLP_IGNORED_RESOURCE_PREFIXES = env_list(
    "OTLP_IGNORED_RESOURCE_PREFIXES", ["telemetry.", "process."]
)
PROMQL_MAX_SERIES = env_int("PROMQL_MAX_SERIES", 20_000)
METRICS_CHUNK_CACHE_MB = env_int("METRICS_CHUNK_CACHE_MB", 128)

# Notifications: retries with exponential backoff and full jitter.
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 8)
NOTIFY_RETRY_BASE_SECONDS = env_int("NOTIFY_RETRY_BASE_SECONDS", 10)
NOTIFY_RETRY_CAP_SECONDS = env_int("NOTIFY_RETRY_CAP_SECONDS", 900)
EVALUATION_QUERY_TIMEOUT_SECONDS = env_int("EVALUATION_QUERY_TIMEOUT_SECONDS", 10)
