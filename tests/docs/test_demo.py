"""/demo/: off unless debug or CHAT_DEMO_ENABLED, a token only for seed_demo's users, the socket.io client
served from the npm package (the browser test, tests/e2e/demo-browser.test.mjs, drives the page)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client

from chat.services.demo import DEMO_USERS
from chat.tokens import decode_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_on(settings):
    settings.CHAT_DEMO_ENABLED = True


def token(client: Client, name) -> tuple[int, dict]:
    response = client.post("/demo/token", json.dumps({"name": name}), content_type="application/json")
    return response.status_code, response.json()


def test_the_demo_is_off_by_default():
    assert settings.CHAT_DEMO_ENABLED is False  # DJANGO_DEBUG is off in tests
    client = Client()
    assert client.get("/demo/").status_code == 404
    assert client.post("/demo/token", "{}", content_type="application/json").status_code == 404
    assert client.get("/demo/socket.io.min.js").status_code == 404


def test_the_page_offers_the_demo_users(demo_on):
    html = Client().get("/demo/").content.decode()
    for name in DEMO_USERS:
        assert f'data-testid="login-{name}"' in html
    assert "/demo/socket.io.min.js" in html and "cdn" not in html.lower()


def test_a_token_for_a_demo_user_and_no_one_else(demo_on):
    status, body = token(Client(), "Bob")
    assert status == 200 and body["userId"] == str(DEMO_USERS["Bob"])
    assert str(decode_token(body["accessToken"]).user_id) == body["userId"]
    for bad in ["Mallory", None, 7]:
        status, body = token(Client(), bad)
        assert status == 400 and body["code"] == "invalid"


def test_the_socketio_client_is_served_from_the_npm_package(demo_on):
    if not settings.CHAT_DEMO_SOCKETIO_JS.is_file():
        pytest.skip("demo/node_modules is not installed (make demo-assets, needs npm)")
    response = Client().get("/demo/socket.io.min.js")
    assert response.status_code == 200 and response["Content-Type"] == "text/javascript"
    assert b"socket.io" in b"".join(response.streaming_content)
