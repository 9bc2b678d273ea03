"""Settings for SMP Clinic.

Every deploy-time value comes from the environment (see .env.example). The defaults
run a laptop clinic with nothing but Python: SQLite under var/, a file-system Celery
broker and e-mail written to var/mail/. DATABASE_URL and REDIS_URL switch to
PostgreSQL and Redis.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SMP_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, *, default: bool) -> bool:
    """A boolean from the environment; anything but a clear yes or no is an error."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, *, default: int, minimum: int = 0) -> int:
    raw = env.str(name, default=None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


DEBUG = env_bool("DJANGO_DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-laptop-only-key-" + "x" * 40)
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set (50+ random characters) when DJANGO_DEBUG is off.")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list this site's host names when DJANGO_DEBUG is off.")

# Empty counts as unset (.env.example leaves it empty so `make run` can follow ADDR).
SITE_URL = (env.str("SITE_URL", default="") or "http://127.0.0.1:8000").rstrip("/")
CLINIC_NAME = env.str("CLINIC_NAME", default="SMP Clinic")

INSTALLED_APPS = [
    "smpclinic.apps.ClinicAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "anymail",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "smpclinic",
    "treatments",
    "clients",
    "bookings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Next to Django's security headers, and before whitenoise so static files carry it too.
    "smpclinic.permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session middleware: a NUL in the session cookie must not reach PostgreSQL either.
    "smpclinic.badinput.RejectNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Sets request.user.otp_device (the second factor this session verified), so after authentication.
    "django_otp.middleware.OTPMiddleware",
    "smpclinic.accounts.middleware.StaffSessionIdleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, as axes asks: turns a login refused for lockout into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smpclinic.urls"
WSGI_APPLICATION = "smpclinic.wsgi.application"

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
                "django.template.context_processors.csp",
                "smpclinic.context_processors.clinic",
            ],
        },
    },
]

# Databases -------------------------------------------------------------------
# Nothing here creates a folder: importing settings has no side effects. The entry points
# make VAR_DIR and the broker's folders (smpclinic.var.var_dirs_create).
try:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
except (ImproperlyConfigured, ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
    raise ImproperlyConfigured("DATABASE_URL is not a usable database URL: use postgres://... or sqlite:///...")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Writers queue for the lock instead of failing half-way: the booking
            # service relies on one write transaction at a time on SQLite.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: Celery broker and cache ------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, not {REDIS_URL[:10]!r}.")

if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, with one redis-py client per pool instead of one per call.
            "BACKEND": "smpclinic.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering (not one that refuses) must cost a request seconds,
            # not hang it: the rate limits then fail open as they do when Redis is down.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # kombu's default is ./control, relative to whatever folder the process started in.
        "control_folder": str(_broker_dir / "control"),
    }

CELERY_TIMEZONE = "Europe/London"  # when beat ticks; appointment times follow each location's zone
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker whose Redis is away keeps trying to reconnect (every 2 s, then up to every 30 s)
# for as long as it takes, rather than exiting after Celery's default 100 tries (about 45
# minutes): every message waits in PostgreSQL and goes out once the worker is back.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Payments (bookings/payments) ---------------------------------------------------------
# Stripe takes online deposits. With no secret key the clinic talks to the local stub of
# Stripe's API (bookings/payments/stub.py, started by `manage.py runclinic`) so the demo and the
# tests take "payments" offline; production sets the key and the webhook endpoint's secret.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
PAYMENTS_STUB = not STRIPE_SECRET_KEY
if PAYMENTS_STUB:
    STRIPE_SECRET_KEY = "sk_test_local_stub"
# Empty is unset (a .env copied from .env.example).
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="") or ("whsec_local_stub" if PAYMENTS_STUB else "")
STRIPE_API_BASE = (env.str("STRIPE_API_BASE", default="") or ("http://127.0.0.1:8765" if PAYMENTS_STUB else "")).rstrip(
    "/"
)
if not PAYMENTS_STUB and not STRIPE_WEBHOOK_SECRET:
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY is set without STRIPE_WEBHOOK_SECRET: webhooks could not be verified."
    )
# How long an online booking's time is held while the client pays its deposit.
PAYMENT_HOLD_MINUTES = env_int("PAYMENT_HOLD_MINUTES", default=15, minimum=5)

# Auth -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "staff:login"
LOGIN_REDIRECT_URL = "staff:schedule"
LOGOUT_REDIRECT_URL = "staff:login"
# The lockout check first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Staff logins (smpclinic/accounts) ----------------------------------------------
# Lockout (django-axes): after STAFF_LOGIN_FAILURE_LIMIT failures for one username (from any
# address) or from one address (whatever the usernames), logins are refused for
# STAFF_LOGIN_COOLOFF_MINUTES, or until a manager unlocks them in the admin.
AXES_FAILURE_LIMIT = env_int("STAFF_LOGIN_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("STAFF_LOGIN_COOLOFF_MINUTES", default=15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Retrying while locked does not restart the wait, so "wait N minutes" on the lockout page holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "smpclinic.accounts.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "bookings.network.client_ip"
# The lockouts are registered on the clinic's admin with a manager-only unlock (accounts/admin.py).
AXES_ENABLE_ADMIN = False
# Log lines name the lockout parameters masked (axes' AXES_SENSITIVE_PARAMETERS), never the user agent.
AXES_VERBOSE = False
# Behind a reverse proxy every request comes from the proxy's address, so one address's lockout
# would lock the whole clinic out (and one booking rate limit would cover every client): name
# the header the proxy sets to the client's address (X-Real-IP, or X-Forwarded-For, whose
# right-most entry is read; bookings.network). Only when the proxy always sets it: a client can
# send the header too. Unset: REMOTE_ADDR.
TRUSTED_PROXY_HEADER = env.str("DJANGO_TRUSTED_PROXY_HEADER", default="").strip()
if TRUSTED_PROXY_HEADER and not re.fullmatch(r"[A-Za-z0-9-]+", TRUSTED_PROXY_HEADER):
    raise ImproperlyConfigured(
        f"DJANGO_TRUSTED_PROXY_HEADER={TRUSTED_PROXY_HEADER!r} is not a header name, e.g. X-Real-IP."
    )
# Staff sessions end after this long without a request (refreshed at most once a minute, so a
# page view costs no session write; see accounts.middleware). The public site keeps nothing
# in a session.
STAFF_SESSION_IDLE_MINUTES = env_int("STAFF_SESSION_IDLE_MINUTES", default=30, minimum=5)
SESSION_COOKIE_AGE = STAFF_SESSION_IDLE_MINUTES * 60
STAFF_SESSION_REFRESH_SECONDS = 60
# Two-factor (django-otp, TOTP): managers must verify a code to reach the admin or the workspace;
# anyone else who has added an authenticator app is asked for a code after the password.
OTP_TOTP_ISSUER = CLINIC_NAME
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Time and language ------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
# The zone a new location starts in (each location has its own, see bookings.Location.time_zone).
CLINIC_TIME_ZONE = env.str("CLINIC_TIME_ZONE", default=TIME_ZONE)
if CLINIC_TIME_ZONE not in zoneinfo.available_timezones():
    raise ImproperlyConfigured(f"CLINIC_TIME_ZONE={CLINIC_TIME_ZONE!r} is not an IANA time zone, e.g. Europe/London.")
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["smpclinic.formats"]
# Clients' phone numbers: typed as UK numbers, stored in E.164 (clients/phones.py).
PHONENUMBER_DEFAULT_REGION = "GB"
PHONENUMBER_DB_FORMAT = "E164"

# Static files and private media -----------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
# No MEDIA_URL is served: every upload is health data, reached only through views
# that check permission.
MEDIA_ROOT = PRIVATE_MEDIA_ROOT
MEDIA_URL = "/media-is-never-served/"
# Photos (and any other upload) live on the local disk under PRIVATE_MEDIA_ROOT, or with
# DJANGO_PHOTO_STORAGE=s3 in a private bucket on S3 or an S3-compatible server. Either way the
# bytes reach a browser only through the permission-checked views, which read the file from
# storage and stream it: no object is public and no browser is sent to the bucket.
PHOTO_STORAGE = env.str("DJANGO_PHOTO_STORAGE", default="local").strip().lower()
if PHOTO_STORAGE == "local":
    _private_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    }
elif PHOTO_STORAGE == "s3":
    _bucket = env.str("AWS_STORAGE_BUCKET_NAME", default="").strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", _bucket):
        raise ImproperlyConfigured(
            f"AWS_STORAGE_BUCKET_NAME={_bucket!r} is not a bucket name (3-63 lower-case letters, digits, dots, "
            "hyphens); it is required when DJANGO_PHOTO_STORAGE=s3."
        )
    _endpoint = env.str("AWS_S3_ENDPOINT_URL", default="").strip() or None
    if _endpoint and not re.fullmatch(r"https?://[^\s/?#]+/?", _endpoint):
        raise ImproperlyConfigured(
            f"AWS_S3_ENDPOINT_URL={_endpoint!r} is not a server address, e.g. https://s3.example.com "
            "(leave it empty for Amazon S3)."
        )
    _access_key = env.str("AWS_ACCESS_KEY_ID", default="").strip() or None
    _secret_key = env.str("AWS_SECRET_ACCESS_KEY", default="").strip() or None
    if bool(_access_key) != bool(_secret_key):
        raise ImproperlyConfigured(
            "Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (then boto3 finds credentials "
            "itself, e.g. an instance role)."
        )
    # "private" says so on every upload; empty sends no ACL, for buckets whose ACLs are disabled
    # (Amazon's default "bucket owner enforced"). Anything that could grant public read is refused.
    _acl = env.str("AWS_DEFAULT_ACL", default="private").strip()
    if _acl not in {"private", "bucket-owner-full-control", ""}:
        raise ImproperlyConfigured(
            f"AWS_DEFAULT_ACL={_acl!r} is not allowed: photos are health data; use private, "
            "bucket-owner-full-control or leave it empty (bucket without ACLs)."
        )
    _addressing = env.str("AWS_S3_ADDRESSING_STYLE", default="auto").strip().lower()
    if _addressing not in {"auto", "path", "virtual"}:
        raise ImproperlyConfigured(f"AWS_S3_ADDRESSING_STYLE={_addressing!r} is not auto, path or virtual.")
    _prefix = env.str("PHOTO_STORAGE_PREFIX", default="private").strip().strip("/")
    if not re.fullmatch(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*", _prefix) or ".." in _prefix:
        raise ImproperlyConfigured(
            f"PHOTO_STORAGE_PREFIX={_prefix!r} is not a key prefix, e.g. private or clinic/private."
        )
    _private_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "endpoint_url": _endpoint,
            "region_name": env.str("AWS_S3_REGION_NAME", default="").strip() or None,
            "access_key": _access_key,
            "secret_key": _secret_key,
            "addressing_style": None if _addressing == "auto" else _addressing,
            "signature_version": "s3v4",
            # Photos under <prefix>/photos/, thumbnails under <prefix>/thumbs/ (Photo's upload_to):
            # the prefix keeps them apart from anything else in the bucket (backups, for one).
            "location": _prefix,
            "default_acl": _acl or None,
            # Names are random, but a clash must never replace another client's photo.
            "file_overwrite": False,
            # Nothing links to the bucket; should a URL ever be made, it is signed and short-lived.
            "querystring_auth": True,
            "querystring_expire": 60,
            "custom_domain": None,
            "object_parameters": {"CacheControl": "private, no-store"},
        },
    }
else:
    raise ImproperlyConfigured(f"DJANGO_PHOTO_STORAGE={PHOTO_STORAGE!r} is not local or s3.")
STORAGES = {
    "default": _private_storage,
    "private": _private_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("DJANGO_STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        ),
    },
}
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# E-mail -----------------------------------------------------------------------
# Three ways out, first match wins: a provider's HTTP API through django-anymail
# (DJANGO_EMAIL_PROVIDER), an SMTP server (EMAIL_URL), or files in var/mail/ (the laptop).
# Each provider's backend and the option its one secret goes in; Amazon SES takes the process's
# AWS credentials (boto3's usual chain: AWS_* variables or the instance's role) instead.
_EMAIL_PROVIDERS = {
    "amazon_ses": ("anymail.backends.amazon_ses.EmailBackend", None),
    "brevo": ("anymail.backends.brevo.EmailBackend", "api_key"),
    "mailgun": ("anymail.backends.mailgun.EmailBackend", "api_key"),
    "postmark": ("anymail.backends.postmark.EmailBackend", "server_token"),
    "resend": ("anymail.backends.resend.EmailBackend", "api_key"),
    "sparkpost": ("anymail.backends.sparkpost.EmailBackend", "api_key"),
}
EMAIL_PROVIDER = env.str("DJANGO_EMAIL_PROVIDER", default="").strip().lower()
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_PROVIDER:
    if EMAIL_PROVIDER not in _EMAIL_PROVIDERS:
        raise ImproperlyConfigured(
            f"DJANGO_EMAIL_PROVIDER={EMAIL_PROVIDER!r} is not a provider: use one of {', '.join(_EMAIL_PROVIDERS)}."
        )
    _backend, _secret_option = _EMAIL_PROVIDERS[EMAIL_PROVIDER]
    _options: dict[str, object] = {}
    if _secret_option:
        _api_key = env.str("ANYMAIL_API_KEY", default="")
        if not _api_key:
            raise ImproperlyConfigured(f"ANYMAIL_API_KEY must be set for DJANGO_EMAIL_PROVIDER={EMAIL_PROVIDER}.")
        _options[_secret_option] = _api_key
    # Only to change the provider's API address, e.g. Mailgun's EU region (https://api.eu.mailgun.net/v3).
    _api_url = env.str("ANYMAIL_API_URL", default="")
    if _api_url and _secret_option:
        _options["api_url"] = _api_url
    _ses_region = env.str("ANYMAIL_AMAZON_SES_REGION", default="")
    if EMAIL_PROVIDER == "amazon_ses" and _ses_region:
        _options["client_params"] = {"region_name": _ses_region}
    MAILERS = {"default": {"BACKEND": _backend, "OPTIONS": _options}}
elif EMAIL_URL:
    try:
        _smtp = env.email_url("EMAIL_URL")
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"EMAIL_URL is not a usable e-mail URL: {exc}") from None
    MAILERS = {
        "default": {
            "BACKEND": _smtp["EMAIL_BACKEND"],
            "OPTIONS": {
                "host": _smtp.get("EMAIL_HOST"),
                "port": _smtp.get("EMAIL_PORT"),
                "username": _smtp.get("EMAIL_HOST_USER") or None,
                "password": _smtp.get("EMAIL_HOST_PASSWORD") or None,
                "use_tls": bool(_smtp.get("EMAIL_USE_TLS")),
                "use_ssl": bool(_smtp.get("EMAIL_USE_SSL")),
                "timeout": 20,
            },
        }
    }
elif not DEBUG:
    raise ImproperlyConfigured(
        "EMAIL_URL must be set (e.g. smtp+tls://user:password@host:587), or DJANGO_EMAIL_PROVIDER chosen, "
        "when DJANGO_DEBUG is off."
    )
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))},
        }
    }
# anymail's own options: refuse to send a message whose features the provider would drop
# (a silently missing attachment is worse than a failed row staff can see and resend).
ANYMAIL = {"IGNORE_UNSUPPORTED_FEATURES": False}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SMP Clinic <hello@smpclinic.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security ---------------------------------------------------------------------
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
# Links to other sites carry no referrer at all: a booking or record URL never leaks out.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Browser features no page uses (smpclinic.permissions_policy). The camera stays allowed for
# the site's own pages: the photo upload's <input capture> does not need it today, but a
# future in-page capture would, and no other origin gets it.
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "autoplay": [],
    "browsing-topics": [],
    "camera": ["self"],
    "display-capture": [],
    "encrypted-media": [],
    "geolocation": [],
    "gyroscope": [],
    "hid": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "serial": [],
    "usb": [],
    "xr-spatial-tracking": [],
}
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=not DEBUG)
if env_bool("DJANGO_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Logging: ids and references only, never names, e-mails, phones or notes.
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"DJANGO_LOG_LEVEL={LOG_LEVEL!r} is not a log level.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # At DEBUG it logs every missing template variable with the whole context: client names,
        # e-mails and phones from the models' reprs. Pinned so LOG_LEVEL=DEBUG never turns it on.
        "django.template": {"level": "INFO"},
    },
}

DEMO_STAFF_USERNAME = "manager"
DEMO_STAFF_PASSWORD = env.str("DEMO_STAFF_PASSWORD", default="smp-demo-2026")
# The demo manager's authenticator secret (base32), public on purpose: `make run` prints it and
# `manage.py demo_totp_code` shows the code it makes, so the demo shows the real second factor.
# Only seed_demo's manager gets it; nothing skips the second factor, in the demo or anywhere.
DEMO_STAFF_TOTP_SECRET = "SMPCLINICDEMOTOTPSECRETKEY234567"

# Client messages (the outbox in bookings.ClientMessage) ------------------------
_send_time = env.str("AFTERCARE_SEND_TIME", default="09:00")
try:
    _hour, _minute = (int(part) for part in _send_time.split(":"))
    if not (0 <= _hour <= 23 and 0 <= _minute <= 59):
        raise ValueError
except ValueError:
    raise ImproperlyConfigured(f"AFTERCARE_SEND_TIME={_send_time!r} is not a time: use HH:MM, e.g. 09:00.") from None
# Wall-clock time, in the appointment's location's zone, at which aftercare and follow-ups go out.
AFTERCARE_SEND_TIME = f"{_hour:02d}:{_minute:02d}"
TOUCH_UP_RECALL_MONTHS = env_int("TOUCH_UP_RECALL_MONTHS", default=24, minimum=1)
# Seconds the managers' dashboard shows a snapshot of its figures before computing them again
# (the page says when they were computed; beat refreshes the default view before they run out).
# 0: compute on every load.
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", default=600, minimum=0)
# How many of the dashboard's independent reports run at once on PostgreSQL, each on a database
# connection of its own for the length of the computation (1: one after another).
DASHBOARD_QUERY_THREADS = env_int("DASHBOARD_QUERY_THREADS", default=2, minimum=1)
# Days the intake form's link (in the confirmation, the 2-day reminder and the manage page) works.
INTAKE_LINK_DAYS = env_int("INTAKE_LINK_DAYS", default=30, minimum=1)
# Days after a course's last session (healed) that the review request goes out; and where it
# points when the location sets no link of its own (empty: no review requests).
REVIEW_REQUEST_DAYS = env_int("REVIEW_REQUEST_DAYS", default=30, minimum=1)
REVIEW_URL = env.str("REVIEW_URL", default="")
if REVIEW_URL and not REVIEW_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"REVIEW_URL={REVIEW_URL[:40]!r} must be a web address starting with https://.")
# Rows one dispatcher claims, looks up and records together.
REMINDERS_BATCH_SIZE = env_int("REMINDERS_BATCH_SIZE", default=100, minimum=1)
# Accepted messages are recorded `sent` in groups of at most this many, each group written
# within this many milliseconds of its first send: a worker killed mid-batch sends at most the
# open group again (bookings.services.outbox._Marks). REMINDERS_MARK_GROUP=1: one mark per message.
REMINDERS_MARK_GROUP = env_int("REMINDERS_MARK_GROUP", default=25, minimum=1)
REMINDERS_MARK_WINDOW_MS = env_int("REMINDERS_MARK_WINDOW_MS", default=50, minimum=0)
# How many waiting clients (in the order they joined) are offered one freed time.
WAITLIST_OFFERS_PER_TIME = env_int("WAITLIST_OFFERS_PER_TIME", default=20, minimum=1)
REMINDERS_MAX_ATTEMPTS = env_int("REMINDERS_MAX_ATTEMPTS", default=6, minimum=1)
REMINDERS_RETRY_BASE_SECONDS = env_int("REMINDERS_RETRY_BASE_SECONDS", default=60, minimum=1)
# A `sending` claim older than this belongs to a dead worker and is taken over. Keep it well
# above the mailer's timeout (20 s) so a slow but live send is never taken over.
REMINDERS_CLAIM_TIMEOUT_SECONDS = env_int("REMINDERS_CLAIM_TIMEOUT_SECONDS", default=600, minimum=60)
# One dispatch run stops claiming after this long, so beat's next tick starts a fresh one.
REMINDERS_DISPATCH_BUDGET_SECONDS = env_int("REMINDERS_DISPATCH_BUDGET_SECONDS", default=50, minimum=1)
SMS_BACKEND = env.str("SMS_BACKEND", default="bookings.sms.backends.console.SmsBackend")
SMS_HTTP_URL = env.str("SMS_HTTP_URL", default="")
SMS_HTTP_TOKEN = env.str("SMS_HTTP_TOKEN", default="")
SMS_SENDER = env.str("SMS_SENDER", default="SMPClinic")
# A mailer class by dotted path instead of EMAIL_URL's (tests and bench: a recording file mailer).
_mailer_backend = env.str("MAILER_BACKEND", default="")
if _mailer_backend:
    MAILERS = {
        "default": {
            "BACKEND": _mailer_backend,
            "OPTIONS": {"file_path": env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))},
        }
    }

# Public booking form (bookings.ratelimit): attempts per hour from one IP address, and
# bookings per hour for one e-mail address.
BOOKING_RATE_LIMIT_PER_IP = env_int("BOOKING_RATE_LIMIT_PER_IP", default=20, minimum=1)
BOOKING_RATE_LIMIT_PER_EMAIL = env_int("BOOKING_RATE_LIMIT_PER_EMAIL", default=5, minimum=1)
# Anonymous visitors' public pages and booking form served from the cache (bookings.pagecache):
# at most this many seconds old (the booking form five minutes at most); 0 turns it off.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", default=600)
