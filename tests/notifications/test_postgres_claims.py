"""Several push workers on one PostgreSQL database deliver each row once (SELECT ... FOR UPDATE SKIP
LOCKED). Real processes (`manage.py run_push_worker --once`) on a fresh database of this test's own;
skipped with the reason when PostgreSQL is not available."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(90)]

REPO = Path(__file__).resolve().parents[2]
ROWS = 300

SEED = f"""
from chat.models import User
from notifications.models import Device, Push, PushKind
user = User.objects.create_user(name="Bob")
devices = Device.objects.bulk_create(
    [Device(user=user, token=f"tok-{{i:04d}}", platform="android") for i in range({ROWS})]
)
Push.objects.bulk_create(
    [Push(kind=PushKind.TEST, user=user, device=d, token=d.token, platform="android", title="t") for d in devices]
)
"""

COUNT = """
from notifications.models import Push
print(sorted(set(Push.objects.values_list("state", flat=True))), Push.objects.filter(attempts=1).count())
"""


@pytest.fixture
def pg_env(tmp_path):
    with fresh_postgres_database(
        "chat_push",
        PUSH_BACKEND="tests.notifications.backends_for_tests.SlowFileBackend",
        PUSH_FILE_PATH=str(tmp_path / "pushes.jsonl"),
        PUSH_BATCH_SIZE="10",
    ) as env:
        yield env


def manage(env, *args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def test_three_workers_deliver_each_row_exactly_once(pg_env, tmp_path):
    seed = manage(pg_env, "shell", "-c", SEED)
    assert seed.wait(60) == 0, seed.stdout.read()

    workers = [manage(pg_env, "run_push_worker", "--once") for _ in range(3)]
    outputs = [w.communicate(timeout=60)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs

    lines = [json.loads(line) for line in (tmp_path / "pushes.jsonl").read_text().splitlines()]
    tokens = [line["token"] for line in lines]
    assert len(tokens) == ROWS and len(set(tokens)) == ROWS, "a push was sent twice or not at all"
    per_worker = [int(out.rsplit("push worker stopped: sent ", 1)[1].split(",")[0]) for out in outputs]
    assert sum(per_worker) == ROWS
    assert sum(1 for n in per_worker if n) >= 2, f"the workers did not overlap: {per_worker}"

    check = manage(pg_env, "shell", "-c", COUNT)
    assert check.wait(60) == 0
    assert check.stdout.read().strip().splitlines()[-1] == f"['sent'] {ROWS}"
