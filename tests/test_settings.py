"""chat_project/settings.py refuses configurations that would only fail later, request by request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_settings(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import chat_project.settings"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_load():
    assert load_settings().returncode == 0


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_an_empty_hmac_secret_is_refused_at_start(algorithm):
    result = load_settings(CHAT_JWT_SECRET="", CHAT_JWT_ALGORITHM=algorithm)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CHAT_JWT_SECRET" in result.stderr


# --- production (README, "Deploy") ----------------------------------------------------------------

# The production environment the README's "Deploy" section documents (its secrets replaced by
# throwaway values of the documented length).
DEPLOY_ENV = {
    "CHAT_ENV": "production",
    "DJANGO_SECRET_KEY": "k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz",
    "CHAT_JWT_SECRET": "j" * 48,
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://chat.example.com",
    "CORS_ALLOWED_ORIGINS": "https://app.example.com",
    "DATABASE_URL": "postgres://chat:secret@db.internal:5432/chat",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "AWS_STORAGE_BUCKET_NAME": "chat-uploads",
    "PUSH_BACKEND": "notifications.backends.fcm.PushBackend",
    "FIREBASE_CREDENTIALS": "/etc/chat/firebase.json",
    "PUSH_WORKER_IN_PROCESS": "false",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    prefixes = ("DJANGO_", "CHAT_", "SECURE_", "DATABASE_URL", "REDIS_URL", "AWS_", "PUSH_", "CORS_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **DEPLOY_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY"),
        ("CHAT_JWT_SECRET", "CHAT_JWT_SECRET"),
        ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS"),
    ],
)
def test_production_without_a_setting_says_which_without_a_traceback(missing, named):
    env = {k: v for k, v in DEPLOY_ENV.items() if k != missing}
    result = manage("check", "--deploy", **env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert named in result.stderr and len(result.stderr.splitlines()) <= 3


def test_production_refuses_any_host():
    result = manage("check", **{**DEPLOY_ENV, "DJANGO_ALLOWED_HOSTS": "*"})
    assert result.returncode != 0 and "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_https_settings_come_from_the_environment_with_production_defaults():
    show = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    production = manage("shell", "-c", show, **DEPLOY_ENV)
    assert production.stdout.splitlines()[-1].split() == ["True", "31536000", "True", "True"], production.stderr
    overridden = manage(
        "shell",
        "-c",
        show,
        **DEPLOY_ENV,
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="60",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    assert overridden.stdout.splitlines()[-1].split() == ["False", "60", "False", "False"], overridden.stderr
    development = manage("shell", "-c", show)
    assert development.stdout.splitlines()[-1].split() == ["False", "0", "False", "False"], development.stderr


def test_production_refuses_the_demo():
    result = manage("check", **{**DEPLOY_ENV, "CHAT_ENV": "production", "CHAT_DEMO_ENABLED": "true"})
    assert result.returncode != 0 and "CHAT_DEMO_ENABLED" in result.stderr and "Traceback" not in result.stderr
