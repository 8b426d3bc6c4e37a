"""Fixtures of the fault tests: one throwaway PostgreSQL cluster for the session (each test module gets
a fresh database in it), users with tokens, and socket clients that are disconnected after the test."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from chat.tokens import issue_token
from tests.conftest import Client
from tests.faults.harness import PostgresCluster, migrate, server_env


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    """The module's servers' logs, media and push files (kept by pytest for the last runs)."""
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def pg_env(pg_cluster, work_dir):
    """A fresh, migrated database in the cluster, and the environment of servers that use it."""
    name = f"faults_{uuid.uuid4().hex[:8]}"
    pg_cluster.create_database(name)
    env = server_env(pg_cluster.url(name), work_dir)
    migrate(env)
    env["FAULTS_DB_NAME"] = name
    return env


class User:
    def __init__(self, name: str) -> None:
        self.id = str(uuid.uuid4())
        self.name = name
        self.token = issue_token(self.id, name=name)


@pytest.fixture
async def connect():
    """`await connect(url, user)`: a recording python-socketio client of `user` on the server at `url`."""
    made: list[Client] = []

    async def factory(url: str, user: User) -> Client:
        client = Client(url)
        made.append(client)
        await client.connect(user_id=user.id, token=user.token)
        return client

    yield factory
    for client in made:
        if client.sio.connected:
            await client.sio.disconnect()


async def rest(url: str, method: str, path: str, user: User | None = None, body=None, timeout: float = 10):
    headers = {"Authorization": f"Bearer {user.token}"} if user else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.request(method, f"{url}{path}", json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)


def text_message(chat_id: int, text: str, client_message_id: str | None = None) -> dict:
    payload = {"chatHeaderId": chat_id, "message": text, "messageType": 0}
    if client_message_id is not None:
        payload["clientMessageId"] = client_message_id
    return payload
