"""CONTRACT §2: a deactivated user's open sockets are disconnected at once, whoever deactivates them:
the admin (change form and action), `DELETE /api/users/<id>`, or a model save as in `manage.py shell`.

Over real sockets: the in-process live server here, and server processes sharing Redis below (the
disconnect then crosses processes through python-socketio's Redis manager).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import aiohttp
import pytest
import redis
import socketio
from django.test import Client as DjangoClient
from django.urls import reverse
from rest_framework.test import APIClient

from chat.models import User
from chat.state.redis_keys import delete_keys_with_prefix
from chat.state.store import get_state
from chat.tokens import issue_service_token, issue_token
from tests.conftest import REPO_DIR, Client, ensure_redis, run_sync
from tests.processes import ServerProcess

pytestmark = pytest.mark.django_db(transaction=True)


async def disconnected(client: Client, seconds: float = 3) -> float:
    """Seconds until the server disconnected `client`; fails after `seconds` (`Client.until`: no polling)."""
    start = time.monotonic()
    await client.until(lambda: client.closed, timeout=seconds, what="the disconnect")
    return time.monotonic() - start


def deactivate_by_save(user_id) -> None:
    user = User.objects.get(pk=user_id)
    user.is_active = False
    user.save()


def deactivate_by_delete(user_id) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_service_token()}")
    assert client.delete(f"/api/users/{user_id}").status_code == 200


def moderator() -> DjangoClient:
    client = DjangoClient()
    client.force_login(User.objects.create_superuser(name="Mod", password="a-long-test-password"))
    return client


def deactivate_in_admin_form(user_id) -> None:
    user = User.objects.get(pk=user_id)
    form = {
        "name": user.name,
        "avatar": user.avatar,
        "is_staff": "",
        "is_superuser": "",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "00:00:00",
        # is_active left out: an unticked box
    }
    response = moderator().post(reverse("admin:chat_user_change", args=[user.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]


def deactivate_by_admin_action(user_id) -> None:
    url = reverse("admin:chat_user_changelist")
    response = moderator().post(url, {"action": "deactivate", "_selected_action": [str(user_id)]}, follow=True)
    assert b"1 user(s) deactivated" in response.content


@pytest.mark.parametrize(
    "deactivate",
    [deactivate_by_save, deactivate_by_delete, deactivate_in_admin_form, deactivate_by_admin_action],
    ids=["model-save", "delete-api", "admin-form", "admin-action"],
)
async def test_the_sockets_of_a_deactivated_user_are_disconnected_at_once(clients, make_user, deactivate):
    alice, bob = make_user("Alice"), make_user("Bob")
    tabs = [await clients(alice), await clients(alice, transports=("polling",))]
    bystander = await clients(bob)
    run_sync(deactivate, alice.pk)
    for tab in tabs:
        assert await disconnected(tab) < 2
    assert not run_sync(User.objects.get, pk=alice.pk).is_active
    await bystander.barrier()  # fails if the socket is disconnected meanwhile
    assert bystander.sio.connected
    assert await get_state().presence.online_user_ids([alice.pk, bob.pk]) == {str(bob.pk)}
    # And they cannot come back.
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients(alice)


async def test_a_save_that_changes_no_access_disconnects_nobody(clients, make_user):
    alice = make_user("Alice")
    tab = await clients(alice)

    def rename():
        # Written around the services on purpose: the receiver must tell such saves from a deactivation.
        user = User.objects.get(pk=alice.pk)
        user.name = "Alice B"
        user.save()
        User.objects.filter(pk=alice.pk).update(last_seen=None)

    run_sync(rename)
    await tab.barrier()  # a disconnect would have been on its way already: the barrier would fail
    assert tab.sio.connected


async def test_a_rolled_back_deactivation_disconnects_nobody(clients, make_user):
    from django.db import transaction

    alice = make_user("Alice")
    tab = await clients(alice)

    def roll_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            deactivate_by_save(alice.pk)
            raise RuntimeError("changed my mind")

    run_sync(roll_back)
    await tab.barrier()
    assert tab.sio.connected


# --- across processes, through Redis ---------------------------------------------------------------------


@pytest.fixture
def redis_servers(tmp_path):
    """`start(n)`: n server processes on one SQLite file and one Redis channel of their own; and the
    environment a `manage.py` process needs to reach them."""
    ensure_redis()
    channel = f"chat-deactivate-{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:6379/0",
        SOCKETIO_CHANNEL=channel,
        LOG_LEVEL="WARNING",
        PUSH_WORKER_IN_PROCESS="false",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO_DIR, env=env, check=True,
                   capture_output=True)  # fmt: skip
    started: list[ServerProcess] = []

    def start(count: int) -> list[ServerProcess]:
        for index in range(count):
            server = ServerProcess(env, tmp_path / f"server{index}.log")
            started.append(server)
        for server in started:
            server.wait_healthy()
        return started

    yield start, env
    for server in started:
        server.stop()
    keys = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    delete_keys_with_prefix(keys, channel)
    keys.close()


@pytest.mark.redis
@pytest.mark.timeout(90)
@pytest.mark.own_sqlite
async def test_manage_py_shell_disconnects_through_redis(redis_servers):
    """`user.is_active = False; user.save()` in `manage.py shell`: no socket server in that process, so the
    disconnect goes through the write-only Redis manager to the server holding the socket."""
    start, env = redis_servers
    [server] = start(1)
    uid = uuid.uuid4()
    tab = Client(server.url)
    await tab.connect(user_id=uid, token=issue_token(uid, name="Alice"))
    other_id = uuid.uuid4()
    other = Client(server.url)
    await other.connect(user_id=other_id, token=issue_token(other_id, name="Bob"))
    code = f"from chat.models import User; u = User.objects.get(pk='{uid}'); u.is_active = False; u.save()"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=REPO_DIR, env=env, check=True, capture_output=True
    )
    assert await disconnected(tab) < 2
    await other.barrier()
    assert other.sio.connected
    await other.disconnect()


@pytest.mark.redis
@pytest.mark.timeout(90)
@pytest.mark.own_sqlite
async def test_delete_on_one_worker_disconnects_the_socket_on_another(redis_servers):
    start, _env = redis_servers
    first, second = start(2)
    uid = uuid.uuid4()
    tab = Client(second.url)
    await tab.connect(user_id=uid, token=issue_token(uid, name="Alice"))
    headers = {"Authorization": f"Bearer {issue_service_token()}"}
    async with aiohttp.ClientSession() as session:
        async with session.delete(f"{first.url}/api/users/{uid}", headers=headers) as response:
            assert response.status == 200, await response.text()
    assert await disconnected(tab) < 2
