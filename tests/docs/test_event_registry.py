"""The registry of socket events (chat/sockets/registry.py) cannot drift from the code: every handled
event and every emitted event has an entry, and every entry's examples pass the real validator and the
schemas the reference publishes."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest

from chat.sockets import registry
from chat.sockets.server import RESERVED_EVENTS, sio
from chat.validation import Shape

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = registry.reference()  # imports every handler module, so every event is registered
# publish("x", ...), publish_hidden("x", ...), emit_hidden("x", ...), bridge.emit("x", ...), sio.emit("x", ...)
EMIT = re.compile(r'\b(?:publish|publish_hidden|emit_hidden|\.emit)\(\s*"(\w+)"')


def handled_events() -> set[str]:
    return {name for name in sio.handlers["/"] if name not in RESERVED_EVENTS and name != "*"}


def emitted_events() -> set[str]:
    names = set()
    for package in ("chat", "notifications", "uploads", "chat_project"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                names.update(EMIT.findall(path.read_text()))
    return names


def resolve(schema: dict) -> dict:
    """A schema with the registry's components, so that its $refs resolve."""
    return {**schema, "components": {"schemas": registry.SCHEMAS}}


def test_every_handled_event_is_registered():
    handled = handled_events()
    assert {"createMessage", "joinRoom", "readMessage"} <= handled  # the scan sees the handlers
    missing = handled - set(registry.CLIENT_EVENTS)
    assert not missing, f"socket events handled without a registry entry (give their @on a doc=): {missing}"


def test_every_emitted_event_is_registered():
    emitted = emitted_events()
    assert {"message", "messageDeleted", "typing", "clientStatus", "exception"} <= emitted
    missing = emitted - set(registry.SERVER_EVENTS)
    assert not missing, f"server events emitted without a registry entry (chat/sockets/event_docs.py): {missing}"


def test_the_registry_lists_nothing_the_server_does_not_do():
    assert set(registry.CLIENT_EVENTS) <= handled_events()
    assert set(registry.SERVER_EVENTS) <= emitted_events()


@pytest.mark.parametrize("name", sorted(registry.CLIENT_EVENTS))
def test_client_examples_pass_the_validator_and_the_schemas(name):
    event = registry.CLIENT_EVENTS[name]
    if isinstance(event.payload, Shape):
        event.payload.validate(event.example)  # raises `invalid` if the example is wrong
    jsonschema.validate(event.example, resolve(event.payload_schema()))
    jsonschema.validate(event.ack_example, resolve(event.ack))
    assert set(event.error_codes) <= set(registry.ERROR_CODES)
    assert set(event.emits) <= set(registry.SERVER_EVENTS)


@pytest.mark.parametrize("name", sorted(registry.SERVER_EVENTS))
def test_server_examples_pass_their_schemas(name):
    event = registry.SERVER_EVENTS[name]
    jsonschema.validate(event.example, resolve(event.payload))


def test_a_bad_example_is_caught():
    """The schema check above has teeth: a payload without its required field fails."""
    event = registry.CLIENT_EVENTS["createMessage"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"message": "x", "messageType": 0}, resolve(event.payload_schema()))
