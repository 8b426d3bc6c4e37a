"""Settings for the chat server.

Every knob comes from the environment and has a default that serves one machine: `make run` on a
laptop needs no variable at all. Production sets the few that matter (see README, "Configuration").
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
# CHAT_ENV=production: no dev-only secrets, explicit ALLOWED_HOSTS, and HTTPS-only defaults below
# (README, "Deploy"); `manage.py check --deploy` is clean with the settings the README documents.
PRODUCTION = os.environ.get("CHAT_ENV") == "production" and not DEBUG
_DEV_SECRET = "dev-only-insecure-secret-key-change-me"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["*"])
if PRODUCTION and (not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS):
    raise ImproperlyConfigured(
        "CHAT_ENV=production needs DJANGO_ALLOWED_HOSTS: the host names this server answers to "
        "(e.g. chat.example.com), not '*'"
    )
# HTTPS, with production defaults: a TLS-terminating proxy in front (nginx) says the request was
# https in X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER; only where the proxy always sets it).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# The load balancer's health check may come over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Whether to ask browsers' preload list for the domain is the domain owner's decision, not a default:
# `check --deploy` would warn about it (security.W021) until someone makes it.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", PRODUCTION) else None
)
# The admin's login form behind a TLS-terminating proxy: e.g. "https://chat.example.com".
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 3005)

INSTALLED_APPS = [
    # First, so that its createsuperuser (which explains the GUID id) overrides django.contrib.auth's.
    "chat_project",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "chat",
    "uploads",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chat_project.urls"

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
            ],
        },
    },
]

ASGI_APPLICATION = "chat_project.asgi.application"

# --- Database -------------------------------------------------------------------------------------
# SQLite by default (a file in the repo); DATABASE_URL=postgres://... for production and scale-out.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions: several thousand commits/s instead of ~900, and no
    # "database is locked" on read-to-write upgrades (see shared/PERFORMANCE.md).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        # Seconds a connection waits for SQLite's write lock before "database is locked" (its busy
        # timeout); below the socket events' deadline would be pointless, far above it only holds the
        # ORM's thread: every socket event has answered by then anyway.
        "timeout": env_int("DB_SQLITE_BUSY_TIMEOUT", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not the shared-cache in-memory database: the live socket server answers
    # from other threads, and shared-cache SQLite locks whole tables without honouring the timeout.
    # One file per test process, so that concurrent runs never share (and destroy) each other's database.
    _test_db = Path(tempfile.gettempdir()) / f"chat-test-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": env_str("CHAT_TEST_SQLITE", str(_test_db))}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that stops answering (a partition, a frozen host) must not hold a connection attempt or a
    # query for ever (README, "Failure modes"): libpq gives up connecting after DB_CONNECT_TIMEOUT seconds,
    # the server cancels a statement after DB_STATEMENT_TIMEOUT_MS (0: never; a long migration may need
    # it), and TCP keepalives and TCP_USER_TIMEOUT notice a peer that went away without a word. None of
    # these can tell a frozen server from a slow one: the socket events' own deadline
    # (CHAT_EVENT_TIMEOUT_SECONDS) answers those.
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    _pg_options.setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 3))
    _pg_options.setdefault("keepalives", 1)
    _pg_options.setdefault("keepalives_idle", env_int("DB_KEEPALIVES_IDLE", 30))
    _pg_options.setdefault("keepalives_interval", env_int("DB_KEEPALIVES_INTERVAL", 5))
    _pg_options.setdefault("keepalives_count", env_int("DB_KEEPALIVES_COUNT", 3))
    _pg_options.setdefault("tcp_user_timeout", env_int("DB_TCP_USER_TIMEOUT_MS", 30_000))
    _statement_timeout = env_int("DB_STATEMENT_TIMEOUT_MS", 30_000)
    if _statement_timeout:
        _pg_options["options"] = f"{_pg_options.get('options', '')} -c statement_timeout={_statement_timeout}".strip()
# PostgreSQL: the write path's hand-written statements run as prepared statements (chat/sql.py); false
# behind a pooler in transaction mode that cannot keep them (PgBouncer before 1.21).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
if DB_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Those prepared statements keep one generic plan each (chat/sql.py says why); no other statement has
    # parameters on the server (Django binds on the client), so nothing else is planned differently.
    _pg_options["options"] = f"{_pg_options.get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "chat.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The demo client's own script and styles (static/demo/).
STATICFILES_DIRS = [BASE_DIR / "static"]
# Only needed for `collectstatic` in deployments that serve static files elsewhere.
STATIC_ROOT = env_str("STATIC_ROOT") or None
# The admin's CSS and JS are served by WhiteNoise straight from the apps: no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Media and storage ----------------------------------------------------------------------------
MEDIA_URL = "/uploads/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"file_overwrite": False, "default_acl": None, "querystring_auth": False},
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads (CONTRACT §6): input limits per messageType, in bytes. Bodies above the largest are refused
# while they stream in (uploads/guard.py); files are streamed to disk, never held in memory.
UPLOAD_MAX_AUDIO_BYTES = env_int("UPLOAD_MAX_AUDIO_BYTES", 50 * 1024 * 1024)
UPLOAD_MAX_IMAGE_BYTES = env_int("UPLOAD_MAX_IMAGE_BYTES", 50 * 1024 * 1024)
UPLOAD_MAX_FILE_BYTES = env_int("UPLOAD_MAX_FILE_BYTES", 50 * 1024 * 1024)
UPLOAD_MAX_VIDEO_BYTES = env_int("UPLOAD_MAX_VIDEO_BYTES", 500 * 1024 * 1024)
UPLOAD_MULTIPART_OVERHEAD_BYTES = env_int("UPLOAD_MULTIPART_OVERHEAD_BYTES", 64 * 1024)
# After a refusal (401, 413, 429) the rest of the body is read and discarded, so that the client can
# read the answer, but at most this many bytes and seconds (uploads/guard.py).
UPLOAD_REFUSED_DRAIN_BYTES = env_int("UPLOAD_REFUSED_DRAIN_BYTES", 64 * 1024 * 1024)
UPLOAD_REFUSED_DRAIN_SECONDS = env_int("UPLOAD_REFUSED_DRAIN_SECONDS", 10)
# Decompression-bomb limit, read from the image header before decoding (below Pillow's own).
UPLOAD_IMAGE_MAX_PIXELS = env_int("UPLOAD_IMAGE_MAX_PIXELS", 64_000_000)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)

# --- CORS -----------------------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_ALLOW_ALL_ORIGINS = not CORS_ALLOWED_ORIGINS

# --- REST -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["chat.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "chat.errors.rest_exception_handler",
    # DRF's defaults, with a JSON parser that bounds nesting (CONTRACT §11).
    "DEFAULT_PARSER_CLASSES": [
        "chat.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chat API",
    "DESCRIPTION": "REST endpoints beside the Socket.IO chat API (see README).",
    "VERSION": "0.0.1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's JavaScript and CSS come from this server (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Access tokens (CONTRACT §2) ------------------------------------------------------------------
CHAT_JWT_SECRET = env_str("CHAT_JWT_SECRET", "dev-only-insecure-jwt-secret-change-me")
CHAT_JWT_ALGORITHM = env_str("CHAT_JWT_ALGORITHM", "HS256")
CHAT_JWT_PUBLIC_KEY = env_str("CHAT_JWT_PUBLIC_KEY")  # PEM text, or a path to a PEM file, for RS256
CHAT_JWT_PRIVATE_KEY = env_str("CHAT_JWT_PRIVATE_KEY")  # only for issue_token with RS256
CHAT_JWT_AUDIENCE = env_str("CHAT_JWT_AUDIENCE") or None
CHAT_JWT_ISSUER = env_str("CHAT_JWT_ISSUER") or None
CHAT_JWT_LEEWAY = env_int("CHAT_JWT_LEEWAY", 30)
CHAT_JIT_PROVISIONING = env_bool("CHAT_JIT_PROVISIONING", True)
# A well-formed GUID this server never saw, named by a user (joinRoom otherUserId, a friend request,
# group members), is a placeholder user that their first token fills in (CONTRACT §2); false: not_found.
CHAT_PROVISION_REFERENCED_USERS = env_bool("CHAT_PROVISION_REFERENCED_USERS", True)
# An `exp` further ahead than this is refused (CONTRACT §11), for user and service tokens alike.
CHAT_JWT_MAX_LIFETIME = env_int("CHAT_JWT_MAX_LIFETIME", 30 * 86400)
CHAT_REQUIRE_SOCKET_TOKEN = env_bool("CHAT_REQUIRE_SOCKET_TOKEN", False)

if CHAT_JWT_ALGORITHM not in {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256"}:
    raise ImproperlyConfigured(f"CHAT_JWT_ALGORITHM {CHAT_JWT_ALGORITHM!r} is not supported")
if CHAT_JWT_ALGORITHM.startswith(("RS", "ES")) and not CHAT_JWT_PUBLIC_KEY:
    raise ImproperlyConfigured(f"CHAT_JWT_ALGORITHM={CHAT_JWT_ALGORITHM} needs CHAT_JWT_PUBLIC_KEY")
if CHAT_JWT_ALGORITHM.startswith("HS") and not CHAT_JWT_SECRET:
    # Set but empty (`CHAT_JWT_SECRET=` from an unfilled template): PyJWT refuses an empty HMAC key
    # on every token, so each REST call, socket event and upload would end in a 500.
    raise ImproperlyConfigured(f"CHAT_JWT_ALGORITHM={CHAT_JWT_ALGORITHM} needs a non-empty CHAT_JWT_SECRET")
if PRODUCTION:
    if SECRET_KEY == _DEV_SECRET or CHAT_JWT_SECRET.startswith("dev-only"):
        raise ImproperlyConfigured(
            "CHAT_ENV=production needs DJANGO_SECRET_KEY (50 or more random characters) and CHAT_JWT_SECRET "
            "(or RS/ES keys): the dev-only defaults would let anyone forge sessions and access tokens"
        )

# --- The browser demo (/demo/) ---------------------------------------------------------------------
# A page that logs anyone in as one of seed_demo's users, with a token it hands out: on in debug mode,
# else only with CHAT_DEMO_ENABLED, and never in production. Its socket.io client is the npm package's
# dist/socket.io.min.js (demo/package-lock.json, `make demo-assets`), served by this server.
CHAT_DEMO_ENABLED = env_bool("CHAT_DEMO_ENABLED", DEBUG)
CHAT_DEMO_SOCKETIO_JS = BASE_DIR / "demo" / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
if PRODUCTION and CHAT_DEMO_ENABLED:
    raise ImproperlyConfigured(
        "CHAT_DEMO_ENABLED is refused with CHAT_ENV=production: /demo/ gives anyone a token for the demo users"
    )

# --- Chat behaviour ------------------------------------------------------------------------------
# Per-user rate limits (CONTRACT §11), "N/<window>" with s, min or h; "0" turns one off.
CHAT_RATE_LIMIT = env_str("CHAT_RATE_LIMIT", "30/10s")  # createMessage
CHAT_RATE_LIMIT_EDITS = env_str("CHAT_RATE_LIMIT_EDITS", "30/10s")  # updateMessage and removeMessage together
CHAT_RATE_LIMIT_TYPING = env_str("CHAT_RATE_LIMIT_TYPING", "20/10s")
CHAT_RATE_LIMIT_READS = env_str("CHAT_RATE_LIMIT_READS", "60/10s")  # readMessage, markDelivered
CHAT_RATE_LIMIT_REACTIONS = env_str("CHAT_RATE_LIMIT_REACTIONS", "30/10s")
CHAT_RATE_LIMIT_SEARCH = env_str("CHAT_RATE_LIMIT_SEARCH", "10/10s")
CHAT_RATE_LIMIT_NEW_CHATS = env_str("CHAT_RATE_LIMIT_NEW_CHATS", "30/1min")  # only calls that create a chat
CHAT_RATE_LIMIT_FRIEND_REQUESTS = env_str("CHAT_RATE_LIMIT_FRIEND_REQUESTS", "20/1min")
CHAT_RATE_LIMIT_UPLOADS = env_str("CHAT_RATE_LIMIT_UPLOADS", "20/1min")

# The change feed (CONTRACT §9): days a change is kept; `sync` from an older cursor answers resyncRequired.
CHAT_SYNC_RETENTION_DAYS = env_int("CHAT_SYNC_RETENTION_DAYS", 30)
# Fairness (CONTRACT §11): events of one socket handled at once (the rest wait their turn), and
# verified sockets one user may hold.
CHAT_MAX_EVENTS_IN_FLIGHT = env_int("CHAT_MAX_EVENTS_IN_FLIGHT", 8)
CHAT_MAX_SOCKETS_PER_USER = env_int("CHAT_MAX_SOCKETS_PER_USER", 20)
# Failure modes (README): every socket event (and the connect handshake) answers within this many seconds,
# `server_error` past it, whatever it waits for (a hung database, a slow Redis, the ORM's queue behind a
# stuck call); a graceful stop (SIGTERM) takes no new events and waits up to CHAT_SHUTDOWN_GRACE_SECONDS
# for those running to answer before it closes the sockets; a socket whose unsent data passes
# CHAT_SOCKET_MAX_QUEUED_BYTES (a client that stopped reading) is disconnected and its connection closed.
CHAT_EVENT_TIMEOUT_SECONDS = float(env_str("CHAT_EVENT_TIMEOUT_SECONDS", "4") or 4)
CHAT_HEALTH_TIMEOUT_SECONDS = float(env_str("CHAT_HEALTH_TIMEOUT_SECONDS", "3") or 3)
# The serving process's bound on one database call, in ms (chat_project/lifecycle.py sets it on each
# connection the server opens: PostgreSQL's statement_timeout, SQLite's busy timeout): a stuck call frees
# the ORM's one thread about when its event has answered server_error. manage.py commands (migrations,
# imports, purges) keep DB_STATEMENT_TIMEOUT_MS / DB_SQLITE_BUSY_TIMEOUT above. 0: those apply here too.
DB_SERVER_TIMEOUT_MS = env_int("DB_SERVER_TIMEOUT_MS", int(CHAT_EVENT_TIMEOUT_SECONDS * 1000))
# The server's young garbage collections on a clock, every this many ms (chat_project/lifecycle.py), on top
# of CPython's own, which a thousand sockets' waiters can hold off until one collection pauses 5-40 ms.
# 0: CPython's own only.
CHAT_GC_YOUNG_INTERVAL_MS = env_int("CHAT_GC_YOUNG_INTERVAL_MS", 10)
CHAT_SHUTDOWN_GRACE_SECONDS = float(env_str("CHAT_SHUTDOWN_GRACE_SECONDS", "10") or 10)
CHAT_SOCKET_MAX_QUEUED_BYTES = env_int("CHAT_SOCKET_MAX_QUEUED_BYTES", 4 * 1024 * 1024)
CHAT_MAX_MESSAGE_LENGTH = env_int("CHAT_MAX_MESSAGE_LENGTH", 10000)
# Who answers "may this sender put this media path in a message?" (chat/media.py): the uploads app.
CHAT_MEDIA_PATH_CLAIM = "uploads.services.upload_claim_for_message"
CHAT_MAX_CAPTION_LENGTH = 1000

# --- Socket.IO and scale-out ----------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# Connections of the process's one redis.asyncio pool (presence, viewing, rate limits); a call waits for
# a free one when all are busy.
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 50)
SOCKETIO_CHANNEL = env_str("SOCKETIO_CHANNEL", "chat-socketio")
SOCKETIO_PING_INTERVAL = env_int("SOCKETIO_PING_INTERVAL", 25)
SOCKETIO_PING_TIMEOUT = env_int("SOCKETIO_PING_TIMEOUT", 20)
SOCKETIO_MAX_HTTP_BUFFER_SIZE = env_int("SOCKETIO_MAX_HTTP_BUFFER_SIZE", 1_000_000)
# With REDIS_URL: seconds after which a server that stopped heartbeating counts as dead and its
# sockets are removed from presence by the others.
PRESENCE_HOST_TTL = env_int("PRESENCE_HOST_TTL", 30)
# With REDIS_URL: how often (seconds) a worker that lost Redis tries it again; once it answers, the worker
# publishes its own sockets' presence and viewing again (README, "Failure modes").
REDIS_RETRY_SECONDS = float(env_str("REDIS_RETRY_SECONDS", "1") or 1)

# --- Push notifications (CONTRACT §7) -------------------------------------------------------------
PUSH_BACKEND = env_str("PUSH_BACKEND", "notifications.backends.console.PushBackend")
PUSH_FILE_PATH = env_str("PUSH_FILE_PATH", str(BASE_DIR / "pushes.jsonl"))
FIREBASE_CREDENTIALS = env_str("FIREBASE_CREDENTIALS")
PUSH_WORKER_IN_PROCESS = env_bool("PUSH_WORKER_IN_PROCESS", True)
PUSH_MAX_ATTEMPTS = env_int("PUSH_MAX_ATTEMPTS", 8)  # then the push is failed, its last error kept
PUSH_RETRY_BASE_SECONDS = env_int("PUSH_RETRY_BASE_SECONDS", 5)  # backoff: base * 2^(attempt-1), Retry-After wins
PUSH_RETRY_MAX_SECONDS = env_int("PUSH_RETRY_MAX_SECONDS", 3600)
PUSH_BATCH_SIZE = env_int("PUSH_BATCH_SIZE", 500)  # rows claimed per step; FCM send_each takes at most 500
PUSH_POLL_SECONDS = env_int("PUSH_POLL_SECONDS", 5)  # idle poll of the delivery loop (other processes' rows)
PUSH_CLAIM_TIMEOUT = env_int("PUSH_CLAIM_TIMEOUT", 300)  # a row left "sending" this long is retried
PUSH_FCM_TIMEOUT = env_int("PUSH_FCM_TIMEOUT", 30)  # seconds per FCM HTTP request
PUSH_RETENTION_DAYS = env_int("PUSH_RETENTION_DAYS", 7)  # finished pushes are deleted after this

# dictConfig(LOGGING), then the filter that keeps tokens in URLs out of uvicorn's access and WebSocket
# logs (CONTRACT §11; chat_project/access_log.py says why it cannot be a filter in LOGGING).
LOGGING_CONFIG = "chat_project.access_log.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "engineio": {"level": "WARNING"},
        "socketio": {"level": "WARNING"},
    },
}
