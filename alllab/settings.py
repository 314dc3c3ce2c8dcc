"""ALL-Lab settings, read from the environment only (see README "Configuring production").

Defaults make a fresh checkout work with nothing else running: SQLite for the database, a SQLite file as the Celery
broker, media on local disk. Production sets ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (Redis broker).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from alllab.env import envbool, envint, envlist, envstr
from alllab.security import DEFAULT_CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("ALLLAB_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DEBUG", True)
SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is false")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
# The development key and the placeholders of docker/.env.example are public: refuse them outside development.
if not DEBUG and SECRET_KEY.startswith(("dev-only-", "change-me", "django-insecure-")):
    raise ImproperlyConfigured("SECRET_KEY is a published placeholder; generate one (50+ random characters)")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["*"] if DEBUG else ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

# Behind a TLS-terminating proxy: secure cookies and trust its X-Forwarded-Proto.
HTTPS = envbool("HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # container healthchecks call plain http on loopback
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    # Opt-in: both bind every host under the domain (a hospital's, often) to HTTPS for a year.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

INSTALLED_APPS = [
    "alllab.apps.LabAdminConfig",  # django.contrib.admin with the lab-scoped admin site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "alllab.accounts",
    "alllab.cases",
    "alllab.labmodels",
    "alllab.analysis",
    "alllab.dashboard",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally (no CDN)
    "alllab.api",
    "alllab.interop",
    "alllab.review",
    "alllab.adapt",
    "axes",  # login lockout (see "Security" below)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "alllab.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "alllab.review.audit.AuditRequestMiddleware",  # lets audit receivers name who deleted what
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its page
]

ROOT_URLCONF = "alllab.urls"
WSGI_APPLICATION = "alllab.wsgi.application"

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
                "alllab.accounts.context_processors.roles",
            ]
        },
    }
]

# SQLite by default, one file under var/. IMMEDIATE transactions and a busy timeout let the web process and a
# worker write to it at the same time without "database is locked" on lock upgrades.
DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    try:
        # Health checks: a persistent connection that died with a database restart is replaced at the start of
        # the next request instead of failing it (each gunicorn worker holds its own; the stack test's fault (c)).
        DATABASES = {
            "default": dj_database_url.parse(
                DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True
            )
        }
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from exc
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no var/; SQLite will not create the folder
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
# One test database per test process, so two test runs against one server (or one var/) never create, share or drop
# each other's; a file for SQLite, not ":memory:", so a worker subprocess in the integration tests can open it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {"timeout": 20, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG  # development: serve static/ as edited
# Media are patient data: never served at a public URL, only through views that check the lab (see dashboard.case_views).
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if envbool("STATIC_MANIFEST", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Optional S3-compatible media (MinIO, Ceph, AWS): needs `pip install django-storages[s3]`.
AWS_STORAGE_BUCKET_NAME = envstr("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
    AWS_S3_ENDPOINT_URL = envstr("AWS_S3_ENDPOINT_URL") or None
    AWS_ACCESS_KEY_ID = envstr("AWS_ACCESS_KEY_ID") or None
    AWS_SECRET_ACCESS_KEY = envstr("AWS_SECRET_ACCESS_KEY") or None
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True

# Uploads: one smear image per request, streamed to a temporary file above 2.5 MB.
ALLLAB_MAX_UPLOAD_MB = envint("ALLLAB_MAX_UPLOAD_MB", 50, minimum=1)

# Celery. Redis in production; a SQLite file through kombu's SQLAlchemy transport otherwise, which works across
# processes (the web server and the worker are two processes) with nothing else installed.
REDIS_URL = envstr("REDIS_URL")
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL") or REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
# Deployments (or test runs) sharing one Redis keep apart by queue name; workers consume this queue by default.
CELERY_TASK_DEFAULT_QUEUE = envstr("ALLLAB_TASK_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # the AnalysisRun row holds status, timings and error
CELERY_TASK_ACKS_LATE = True  # tasks are idempotent: a redelivery after a crash redoes the work, once
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # one slide at a time per process: they are long and memory-hungry
CELERY_TASK_SOFT_TIME_LIMIT = envint("ALLLAB_TASK_SOFT_TIME_LIMIT", 600, minimum=10)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# Longer than the slowest task, or Redis hands a still-running task to a second worker. (The SQLAlchemy transport
# has no such timeout, and passes its options to create_engine, which refuses this one.)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {}
    if CELERY_BROKER_URL.startswith("sqla+")
    else {
        "visibility_timeout": 2 * CELERY_TASK_TIME_LIMIT,
        # An unreachable Redis fails a send in seconds: the upload is kept and the sweeper sends it later.
        "socket_connect_timeout": 5,
    }
)
# Sends runs the broker never got and re-queues runs whose worker died (alllab.analysis.sweeper).
CELERY_BEAT_SCHEDULE = {
    "sweep-runs": {
        "task": "alllab.analysis.sweep_runs",
        "schedule": float(envint("ALLLAB_SWEEP_EVERY_S", 60, minimum=5)),
    }
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task modules besides each app's tasks.py (autodiscovered): the sweeper's task, which beat sends, must be registered
# in every worker, and nothing in tasks.py imports it.
CELERY_IMPORTS = ["alllab.analysis.sweeper"]

# Inference: "auto" is cuda when torch sees a GPU, else cpu (resolved in the worker, so the web needs no torch).
ALLLAB_DEVICE = envstr("ALLLAB_DEVICE", "auto")
ALLLAB_WEIGHTS = envstr("ALLLAB_WEIGHTS")  # empty: the shipped inference/weights checkpoint

# Lab models (alllab.labmodels, issue 14). Adaptation trains on its own queue, so screening never waits behind it;
# one worker may serve both queues (make run) or a separate one only "training" (docker-compose).
ALLLAB_TRAINING_QUEUE = envstr("ALLLAB_TRAINING_QUEUE", "training")
CELERY_TASK_ROUTES = {"alllab.analysis.adapt_lab_model": {"queue": ALLLAB_TRAINING_QUEUE}}
ALLLAB_TRAINING_TIME_LIMIT = envint("ALLLAB_TRAINING_TIME_LIMIT", 3600, minimum=60)
ALLLAB_ADAPT_MIN_CASES = envint("ALLLAB_ADAPT_MIN_CASES", 6, minimum=2)  # cases with reviewed white cells
ALLLAB_ADAPT_MIN_CELLS_PER_CLASS = envint("ALLLAB_ADAPT_MIN_CELLS_PER_CLASS", 50, minimum=2)
ALLLAB_ADAPT_EPOCHS = envint("ALLLAB_ADAPT_EPOCHS", 30, minimum=1)
ALLLAB_ADAPT_PATIENCE = envint("ALLLAB_ADAPT_PATIENCE", 5, minimum=1)
# The lab's latest analysed smears the label-free calibration reads before fine-tuning (each is held in memory).
ALLLAB_ADAPT_CALIBRATION_SMEARS = envint("ALLLAB_ADAPT_CALIBRATION_SMEARS", 40, minimum=3)
ALLLAB_MODEL_CACHE_SIZE = envint("ALLLAB_MODEL_CACHE_SIZE", 4, minimum=1)  # loaded models per worker process

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}

# LIS API (alllab.api): bearer tokens per client, sessions for signed-in users, one error shape, rates per caller.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "alllab.api.authentication.LisTokenAuthentication",  # first: a missing credential answers 401, not 403
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["alllab.api.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "lis_client": envstr("ALLLAB_API_RATE_CLIENT", "600/min"),
        "user": envstr("ALLLAB_API_RATE_USER", "600/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "alllab.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ALL-Lab LIS API",
    "DESCRIPTION": "Order entry, slide upload and results (JSON, FHIR R4, HL7 v2.5.1) for laboratory information systems.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],  # a session or a LIS token, like the API
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "alllab.cases.models.Case.Status",
        "RunStatusEnum": "alllab.analysis.models.AnalysisRun.Status",
    },
}

# Security (docs/security.md). Login lockout: django-axes counts failures per user name and address in the database.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = envint("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # a whole lab behind one proxy address is not locked out
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = envint("AXES_PROXY_COUNT", 1 if HTTPS else 0, minimum=0)  # behind the TLS proxy
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if HTTPS else ["REMOTE_ADDR"]
# Content-Security-Policy for every response (alllab.security): same-origin only, no inline script.
ALLLAB_CSP = envstr("ALLLAB_CSP") or DEFAULT_CSP
AXES_VERBOSE = False  # one line per lockout, not a banner per process
