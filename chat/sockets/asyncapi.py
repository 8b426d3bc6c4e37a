"""The AsyncAPI 3 document of the Socket.IO API (`GET /api/asyncapi.json`), made from the registry.

One channel, the default namespace `/`; one message per event, plus one per client event's ack (its
success schema or the error answer). A client event is an operation the server *receives* and
answers with a reply (the Socket.IO acknowledgement); a server event is one it *sends*. Schemas are
the registry's components (`#/components/schemas/...`): the payload validators' and the DTOs'.
tests/e2e/asyncapi.test.mjs validates the document with the AsyncAPI project's own parser.
"""

from __future__ import annotations

from chat.sockets import registry

CHANNEL = "socket"


def _message_ref(name: str) -> dict:
    return {"$ref": f"#/channels/{CHANNEL}/messages/{name}"}


def _describe(event: registry.ClientEvent) -> str:
    parts = [event.summary]
    if event.rules:
        parts.append(event.rules)
    parts.append(
        "Errors answer `{error, code}` with code one of: " + ", ".join(f"`{c}`" for c in event.error_codes) + "."
    )
    if event.emits:
        parts.append("Emits: " + ", ".join(f"`{e}`" for e in event.emits) + ".")
    return "\n\n".join(parts)


def asyncapi_document(*, host: str = "localhost:3005", protocol: str = "ws") -> dict:
    reference = registry.reference()
    messages: dict[str, dict] = {}
    operations: dict[str, dict] = {}
    for event in reference.client:
        ack = f"{event.name}.ack"
        messages[event.name] = {
            "name": event.name,
            "title": event.name,
            "summary": event.summary,
            "contentType": "application/json",
            "payload": event.payload_schema(),
            "examples": [{"name": "example", "payload": event.example}],
        }
        messages[ack] = {
            "name": ack,
            "title": f"{event.name} acknowledgement",
            "summary": f"The answer to {event.name}: its result, or an error.",
            "contentType": "application/json",
            "payload": {"oneOf": [event.ack, registry.ERROR]},
            "examples": [{"name": "success", "payload": event.ack_example}],
        }
        operations[event.name] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "title": event.name,
            "summary": event.summary,
            "description": _describe(event),
            "messages": [_message_ref(event.name)],
            "reply": {"channel": {"$ref": f"#/channels/{CHANNEL}"}, "messages": [_message_ref(ack)]},
        }
    for event in reference.server:
        messages[event.name] = {
            "name": event.name,
            "title": event.name,
            "summary": event.summary,
            "description": f"Sent to {event.audience}.",
            "contentType": "application/json",
            "payload": event.payload,
            "examples": [{"name": "example", "payload": event.example}],
        }
        operations[f"emit.{event.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "title": event.name,
            "summary": event.summary,
            "description": f"Sent to {event.audience}.",
            "messages": [_message_ref(event.name)],
        }
    return {
        "asyncapi": "3.1.0",
        "info": {
            "title": "Chat Socket.IO API",
            "version": "0.0.1",
            "description": (
                "The Socket.IO events of the chat server (chat-api-v0.0.1 and CONTRACT.md). Connect with a "
                "Socket.IO client to the server's origin (path /socket.io/), `query: {userId}` and "
                "`auth: {accessToken}`. Each client event is answered through its acknowledgement; without an "
                "ack callback an error arrives as the `exception` event. Every event name is the Socket.IO "
                "event name; its payload is the event's one argument. REST: /api/schema/ (OpenAPI)."
            ),
        },
        "servers": {
            "chat": {
                "host": host,
                "protocol": protocol,
                "pathname": "/socket.io/",
                "description": "Socket.IO over WebSocket (and HTTP long-polling), Engine.IO 4",
            }
        },
        "defaultContentType": "application/json",
        "channels": {
            CHANNEL: {
                "address": "/",
                "title": "Default namespace",
                "description": "Every event travels on the default Socket.IO namespace.",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": operations,
        "components": {"messages": messages, "schemas": reference.schemas},
    }
