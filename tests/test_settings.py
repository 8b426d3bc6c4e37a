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
