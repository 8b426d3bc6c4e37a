"""/docs/ and /api/asyncapi.json show every event the socket server handles or emits; an event added to
the server without a registry entry makes these tests fail."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from chat.sockets import registry
from chat.sockets.server import sio
from tests.docs.test_event_registry import emitted_events, handled_events


def missing_from_docs(html: str, *, client: set[str], server: set[str]) -> set[str]:
    anchors = set(re.findall(r'id="((?:client|server)-\w+)"', html))
    return {f"client-{n}" for n in client} - anchors | {f"server-{n}" for n in server} - anchors


def missing_from_asyncapi(document: dict, *, client: set[str], server: set[str]) -> set[str]:
    operations = document["operations"]
    want = client | {f"emit.{n}" for n in server}
    return want - set(operations)


@pytest.fixture
def anonymous():
    return Client()


def test_docs_page_lists_every_event(anonymous):
    response = anonymous.get("/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not missing_from_docs(html, client=handled_events(), server=emitted_events())
    assert 'href="/api/docs/"' in html and 'href="/api/asyncapi.json"' in html
    # The generated parts are there: a payload field, an error code, a schema link, an example.
    section = html[html.index('id="client-createMessage"') :]
    section = section[: section.index("</section>")]
    assert "chatHeaderId" in section and "rate_limited" in section
    assert 'href="#schema-MessageDto"' in section and "socket.emit('createMessage'" in section


def test_asyncapi_lists_every_event(anonymous):
    response = anonymous.get("/api/asyncapi.json", HTTP_HOST="chat.example.com")
    assert response.status_code == 200
    document = response.json()
    assert document["asyncapi"].startswith("3.")
    assert document["servers"]["chat"]["host"] == "chat.example.com"
    assert not missing_from_asyncapi(document, client=handled_events(), server=emitted_events())
    create = document["components"]["messages"]["createMessage"]["payload"]
    assert create["required"] == ["chatHeaderId", "message", "messageType"]
    assert document["operations"]["createMessage"]["reply"]["messages"] == [
        {"$ref": "#/channels/socket/messages/createMessage.ack"}
    ]


def test_an_event_handled_without_an_entry_is_missing_from_both(anonymous):
    """A handler installed without `doc=` shows up as missing: the checks above would fail."""

    async def ghost(sid, payload):
        return {}

    sio.on("ghostEvent", ghost)
    try:
        handled = handled_events()
        assert "ghostEvent" in handled and "ghostEvent" not in registry.CLIENT_EVENTS
        html = anonymous.get("/docs/").content.decode()
        assert missing_from_docs(html, client=handled, server=set()) == {"client-ghostEvent"}
        document = anonymous.get("/api/asyncapi.json").json()
        assert missing_from_asyncapi(document, client=handled, server=set()) == {"ghostEvent"}
    finally:
        del sio.handlers["/"]["ghostEvent"]
