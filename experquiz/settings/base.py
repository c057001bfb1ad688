"""Settings shared by every environment, read from the environment with django-environ."""

from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY")
# Tenants live on sub-domains of BASE_DOMAIN: "<slug>.<BASE_DOMAIN>". It may carry a port
# (localhost:8000); hosts are compared without their port. Without it, the port is the one
# `make run` serves on (PORT), so links in e-mails and SMS reach the running server.
BASE_DOMAIN = env("BASE_DOMAIN", default=f"localhost:{env('PORT', default='8000')}")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
HTTPS = env.bool("HTTPS", default=not DEBUG)

INSTALLED_APPS = [
    "accounts.apps.PlatformAdminConfig",  # Django's admin, with the platform's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "csp",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "experquiz",
    "audit",
    "accounts",
    "groups",
    "rights",
    "invitations",
    "assessments",
    "flows",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # First, so that everything below (services deep inside views) knows the client and request id.
    "experquiz.request_context.RequestContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "experquiz.headers.SitePolicyCSPMiddleware",
    # /healthz answers here: before the tenant lookup, sessions and the login requirement.
    "experquiz.health.HealthCheckMiddleware",
    "accounts.middleware.TenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "experquiz.tenancy.TenantSessionMiddleware",
    "experquiz.headers.NoStoreMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "accounts.middleware.PasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "web.urls"
# The bare BASE_DOMAIN (no tenant) is served by this URLconf instead: a neutral page and the
# platform's Django admin.
PLATFORM_URLCONF = "web.urls_platform"
WSGI_APPLICATION = "experquiz.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "experquiz.tenancy.organization_context",
                "rights.context_processors.rights",
            ],
            # Tag libraries of the web floor, which is not an app (apps' templatetags load by themselves).
            "libraries": {"audit_tags": "web.audit.audit_tags"},
        },
    },
    {
        # Jinja2 renders the hottest pages: compiled to Python, it prints a value several times faster
        # than Django's engine. The people list, whose rows grow with the data, and the link pages
        # that everyone a message reaches opens (`render(…, using="jinja2")`, on base.jinja). Their
        # files end in .jinja, next to the Django templates; web/jinja_env.py says how they translate.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "web.jinja_env.environment",
            "context_processors": ["experquiz.tenancy.organization_context"],
        },
    },
]

DATABASES = {
    # The embedded default: a SQLite file, so a first run needs no database server.
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}


def sqlite_options(options: dict) -> dict:
    """SQLite set up for a server that runs several requests at once (Django 5.1+ options).

    SQLite has one writer at a time. A transaction opened with a plain BEGIN reads first and asks
    for the write lock later, and when another connection holds it SQLite answers "database is
    locked" at once rather than wait (waiting could deadlock). BEGIN IMMEDIATE takes the write lock
    first, so a second writer waits up to `timeout` seconds for the first to commit. WAL lets
    readers go on while a write commits; synchronous=NORMAL is the durable setting WAL recommends.
    Options given in DATABASE_URL win.
    """
    defaults = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    return defaults | options


POSTGRESQL_SESSION = "-c max_parallel_workers_per_gather=0"
"""The PostgreSQL settings of every connection of ours (libpq's `options`), unless DATABASE_URL gives
its own `options`.

No parallel query: every statement of a request or a task reads a page, a few rows or an index range.
PostgreSQL starts a worker process when it expects a parallel plan to be cheaper, and on a small
machine the start costs more than the plan saves: the people list at 1,000,000 people, with a group,
a type and a search, went from 18 to 5 ms with the plan it chose without workers (bench/README.md,
"No parallel query, fewer round trips"). The counts that gained from workers (a few ms, uncached)
are cached."""

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, whose health check of a kept connection sends no query (experquiz/postgresql).
    DATABASES["default"]["ENGINE"] = "experquiz.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", POSTGRESQL_SESSION)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = sqlite_options(DATABASES["default"].get("OPTIONS", {}))
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.LoginIdBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    # Argon2 first: a PBKDF2 verify at Django's default work factor costs ~0.6 s here, Argon2 ~0.2 s.
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login IDs are unique per organisation (database constraints), not globally; the login backend
# is tenant-aware, which is exactly the case this check warns about. SQLite ignores an index's
# INCLUDE columns (the memberships' name index, groups.models.Membership): the index still serves
# there; only PostgreSQL reads the included column without the table.
SILENCED_SYSTEM_CHECKS = ["auth.W004", "models.W040"]

# Failed logins allowed per login ID from one client address, and per client address, within
# LOGIN_THROTTLE_WINDOW seconds; and per login ID from every address together (a larger, slower
# ceiling that stops a guessing attack spread over many addresses) within LOGIN_THROTTLE_ID_CEILING_WINDOW.
# See experquiz/throttle.py: failures from one address do not lock the owner out from another.
LOGIN_THROTTLE_PER_ID = env.int("LOGIN_THROTTLE_PER_ID", default=5)
LOGIN_THROTTLE_PER_IP = env.int("LOGIN_THROTTLE_PER_IP", default=30)
LOGIN_THROTTLE_WINDOW = env.int("LOGIN_THROTTLE_WINDOW", default=15 * 60)
LOGIN_THROTTLE_ID_CEILING = env.int("LOGIN_THROTTLE_ID_CEILING", default=100)
LOGIN_THROTTLE_ID_CEILING_WINDOW = env.int("LOGIN_THROTTLE_ID_CEILING_WINDOW", default=60 * 60)
# Platform staff (Django's admin on the bare domain) also need a code from a TOTP device (django-otp):
# on in production (see production.py), off in development and tests. Enrol: manage.py addtotpdevice.
PLATFORM_ADMIN_OTP = env.bool("PLATFORM_ADMIN_OTP", default=False)
OTP_TOTP_ISSUER = "ExperQuiz"
# A device's secret is shown once, to its owner, by addtotpdevice: never again in the admin, where any
# other superuser could copy it.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Behind a reverse proxy, the number of proxies whose X-Forwarded-For entries are trusted; above 0,
# the X-Request-ID header (set by the proxy) is kept as the request id too.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date format per language, everywhere (experquiz/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["experquiz.formats"]
TIME_ZONE = env("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True
DEFAULT_PHONE_REGION = env("DEFAULT_PHONE_REGION", default="FR")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Bootstrap's released dist files live in static/vendor/bootstrap/ (see its README), served by
# WhiteNoise: no CDN, works on an intranet.
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="ExperQuiz <no-reply@experquiz.localhost>")

# Celery: with no broker configured, tasks run in-process so the embedded default still works.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# …except the tasks the request must not wait for (experquiz.queueing.enqueue_detached: e.g. the
# forgotten-password look-up), which then run in a thread of their own after the transaction commits.
EMBEDDED_TASKS_IN_BACKGROUND = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = TIME_ZONE

# Django's database sessions, read with one statement written once (experquiz/sessions.py).
SESSION_ENGINE = "experquiz.sessions"
# Cookies are host-only (no SESSION_COOKIE_DOMAIN): a session belongs to one organisation's host.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Load balancers probe /healthz over plain HTTP, behind the TLS they terminate.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts and styles come from our own static files only: no inline script, handler or style
# attribute runs, so injected markup cannot run code. Bootstrap's CSS draws its icons with data:
# images; the progress pages poll JSON from the same origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}

# Logs go to standard error, one line per record: plain text by default, one JSON object per line
# with LOG_FORMAT=json (the production default). Every record carries the request id of the request
# that caused it, in the web process and in the Celery tasks it enqueued (experquiz.logs); Celery
# workers log through this configuration too (experquiz.celery).
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "experquiz.logs.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Text messages (experquiz.sms). SMS_BACKEND names a backend class; when it is unset, SMS_URL selects
# the HTTP gateway backend, and the console backend is used when neither is set.
SMS_BACKEND = env("SMS_BACKEND", default="")
SMS_URL = env("SMS_URL", default="")
SMS_TOKEN = env("SMS_TOKEN", default="")
SMS_TIMEOUT = env.float("SMS_TIMEOUT", default=10)

# Invitations (DESIGN §7). The database is the outbox: rows wait `pending` until a worker sends them.
INVITATIONS_PACKET_SIZE = env.int("INVITATIONS_PACKET_SIZE", default=200)
# Attempts at a message the server answered with a temporary refusal; an outage (the server cannot be
# reached) counts none: messages wait for it however long it lasts, and go within a retry of its end.
INVITATIONS_MAX_ATTEMPTS = env.int("INVITATIONS_MAX_ATTEMPTS", default=6)
# Retry countdowns grow 15 s, 30 s, 60 s… up to INVITATIONS_RETRY_MAX: short, so a packet goes within
# two minutes of an SMTP or SMS outage's end, and below the broker's visibility timeout, or Redis would
# hand the waiting task to a second worker.
INVITATIONS_RETRY_BASE = env.int("INVITATIONS_RETRY_BASE", default=15)
INVITATIONS_RETRY_MAX = env.int("INVITATIONS_RETRY_MAX", default=90)
# A worker claims a packet for this long before sending it, and renews the claim while it sends: a
# worker killed mid-packet leaves its rows to the others within a lease (at once if it restarts under
# the same name). Longer than one message may take (EMAIL_TIMEOUT, SMS_TIMEOUT).
INVITATIONS_LEASE = env.int("INVITATIONS_LEASE", default=60)
# The sweeper (beat, every INVITATIONS_SWEEP_INTERVAL, and when a worker starts) queues again the
# pending invitations that no worker claims, that wait for no retry, and whose task was queued longer
# ago than this (a task lost with a restarted Redis, a killed worker). Recovery within two minutes.
INVITATIONS_SWEEP_AFTER = env.int("INVITATIONS_SWEEP_AFTER", default=30)
INVITATIONS_SWEEP_INTERVAL = env.int("INVITATIONS_SWEEP_INTERVAL", default=30)
PASSWORD_RESET_LIFETIME_MINUTES = env.int("PASSWORD_RESET_LIFETIME_MINUTES", default=60)
# Failed link look-ups (unknown, used, revoked, expired) per client IP on the token pages (/i/…, /r/…);
# over the limit those pages and the forgotten-password form answer 429 until the window ends.
TOKEN_THROTTLE_PER_IP = env.int("TOKEN_THROTTLE_PER_IP", default=60)
TOKEN_THROTTLE_WINDOW = env.int("TOKEN_THROTTLE_WINDOW", default=15 * 60)
PASSWORD_RESET_THROTTLE_PER_ID = env.int("PASSWORD_RESET_THROTTLE_PER_ID", default=3)
PASSWORD_RESET_THROTTLE_PER_IP = env.int("PASSWORD_RESET_THROTTLE_PER_IP", default=20)

CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# An uploaded people file never imported is deleted this long after its upload (hourly by beat, or
# `manage.py purgeimports`): it holds people's data.
IMPORT_FILE_LIFETIME_HOURS = env.int("IMPORT_FILE_LIFETIME_HOURS", default=24)

CELERY_BEAT_SCHEDULE = {
    "invitations-sweep": {
        "task": "invitations.tasks.invitations_sweep",
        "schedule": INVITATIONS_SWEEP_INTERVAL,
    },
    "assessments-reminders": {
        "task": "flows.tasks.assessments_send_reminders",
        "schedule": 60,
    },
    "imports-purge": {
        "task": "accounts.tasks.imports_purge",
        "schedule": 3600,
    },
    # Attempts whose time is up (time limit, or their invitation's window closed) are submitted as they stand.
    "assessments-submit-overdue": {
        "task": "assessments.tasks.attempts_submit_overdue",
        "schedule": 60,
    },
}
