"""The one registry of socket events: what /docs/ and /api/asyncapi.json are generated from.

A client event is registered by the decorator that installs its handler:

    @on("createMessage", doc=docs.CREATE_MESSAGE, ordered=True)   # docs: chat.sockets.event_docs

so an event cannot be handled without being described (tests/docs/test_event_registry.py fails on a
handler without a `doc`). Its `ClientEvent` names the payload's `Shape` (the validator the handler
calls: its JSON Schema is generated from the checks, chat/validation.py), the ack's JSON Schema, the
error codes it can answer, and an example. A server event is registered with `server_event(...)`;
the same test finds every event name the code emits (`publish`, `emit_hidden`, `sio.emit`) and fails
on one without an entry.

Schemas refer to shared components (`ref("MessageDto")`): the DTOs' OpenAPI twins in chat/dtos.py,
converted here, plus the few shapes that have no twin (`component(...)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rest_framework import serializers

from chat import dtos
from chat.validation import Shape

# CONTRACT §4: every error answer is {"error": text, "code": one of these}.
ERROR_CODES = ("unauthorized", "forbidden", "not_found", "invalid", "blocked", "rate_limited", "server_error")
# What any event can answer, whatever it does: a bad token, a bad payload, a bug.
COMMON_ERRORS = ("unauthorized", "invalid", "server_error")


@dataclass(frozen=True)
class ClientEvent:
    """An event the client emits and the server answers through its acknowledgement."""

    summary: str
    payload: Shape | None  # None: the event takes no fields (beyond an optional token)
    ack: dict  # JSON Schema of a successful answer
    example: dict
    ack_example: object
    errors: tuple[str, ...] = ()  # beyond COMMON_ERRORS
    rules: str = ""  # rules the schema cannot say (one field or another, clamping, who may)
    emits: tuple[str, ...] = ()  # server events it causes
    name: str = ""  # set when registered

    @property
    def error_codes(self) -> tuple[str, ...]:
        codes = set(COMMON_ERRORS) | set(self.errors)
        return tuple(code for code in ERROR_CODES if code in codes)

    def payload_schema(self) -> dict:
        schema = self.payload.json_schema() if self.payload is not None else {"type": "object", "properties": {}}
        properties = dict(schema.get("properties", {}))
        # Every event reads a token from its payload when one is given (CONTRACT §4).
        if "accessToken" not in properties:
            properties["accessToken"] = {
                "type": "string",
                "description": "optional: an access token; without it the socket's verified identity is used",
            }
        return {**schema, "properties": properties}


@dataclass(frozen=True)
class ServerEvent:
    """An event the server emits; the client only listens."""

    name: str
    summary: str
    payload: dict  # JSON Schema of the event's one argument
    example: object
    audience: str  # who receives it


CLIENT_EVENTS: dict[str, ClientEvent] = {}
SERVER_EVENTS: dict[str, ServerEvent] = {}
SCHEMAS: dict[str, dict] = {}


def register_client(name: str, event: ClientEvent) -> ClientEvent:
    """Called by `chat.sockets.server.on`: one description per handled event."""
    if name in CLIENT_EVENTS:
        raise ValueError(f"socket event {name!r} is registered twice")
    event = replace(event, name=name)
    CLIENT_EVENTS[name] = event
    return event


def server_event(name: str, *, summary: str, payload: dict, example: object, audience: str) -> ServerEvent:
    if name in SERVER_EVENTS:
        raise ValueError(f"server event {name!r} is registered twice")
    event = ServerEvent(name=name, summary=summary, payload=payload, example=example, audience=audience)
    SERVER_EVENTS[name] = event
    return event


def ref(name: str) -> dict:
    if name not in SCHEMAS:
        raise KeyError(f"no schema component {name!r}")
    return {"$ref": f"#/components/schemas/{name}"}


def component(name: str, schema: dict | type[serializers.Serializer]) -> dict:
    """Register a shared schema (a JSON Schema, or a DRF serializer to convert) and return its $ref."""
    SCHEMAS[name] = serializer_schema(schema) if isinstance(schema, type) else schema
    return ref(name)


def nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def obj(required: list[str] | None = None, **properties: dict) -> dict:
    """An object schema; every property is required unless `required` names the required ones."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


# --- DRF serializers (the DTOs' OpenAPI twins) to JSON Schema -----------------------------------------

_NESTED: dict[type, str] = {}


def _field_schema(f: serializers.Field) -> dict:
    if isinstance(f, serializers.ListSerializer):
        schema = array(_field_schema(f.child))
    elif isinstance(f, serializers.Serializer):
        name = _NESTED.get(type(f))
        schema = ref(name) if name else serializer_schema(type(f))
    elif isinstance(f, serializers.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(f, serializers.IntegerField):
        schema = {"type": "integer"}
        if f.min_value is not None:
            schema["minimum"] = f.min_value
        if f.max_value is not None:
            schema["maximum"] = f.max_value
    elif isinstance(f, serializers.UUIDField):
        schema = {"type": "string", "format": "uuid"}
    elif isinstance(f, serializers.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(f, serializers.ChoiceField):
        schema = {"type": "string", "enum": list(f.choices)}
    elif isinstance(f, serializers.CharField):
        schema = {"type": "string"}
    elif isinstance(f, serializers.ListField):
        schema = array(_field_schema(f.child))
    else:
        raise TypeError(f"no JSON Schema for {type(f).__name__}")
    if f.help_text:
        schema = {**schema, "description": str(f.help_text)}
    return nullable(schema) if getattr(f, "allow_null", False) else schema


def serializer_schema(serializer_class: type[serializers.Serializer]) -> dict:
    fields = serializer_class().fields
    return obj(**{name: _field_schema(f) for name, f in fields.items()})


def dto_component(name: str, serializer_class: type[serializers.Serializer]) -> dict:
    """A DTO twin as a component; later DTOs that nest it refer to it instead of repeating it."""
    result = component(name, serializer_class)
    _NESTED[serializer_class] = name
    return result


USER_BRIEF = dto_component("UserBriefDto", dtos.UserBriefDto)
MESSAGE = dto_component("MessageDto", dtos.MessageDto)
MEMBER = dto_component("MemberDto", dtos.MemberDto)
CHAT_HEADER = dto_component("ChatHeaderDto", dtos.ChatHeaderDto)
ERROR = component(
    "Error",
    obj(
        error={"type": "string", "description": "for a person to read"},
        code={"type": "string", "enum": list(ERROR_CODES)},
    ),
)
EXCEPTION = component(
    "Exception",
    obj(
        error={"type": "string"},
        code={"type": "string", "enum": list(ERROR_CODES)},
        event={"type": "string", "description": "the client event that failed"},
    ),
)


@dataclass
class Reference:
    """Everything /docs/ shows, in display order."""

    client: list[ClientEvent] = field(default_factory=list)
    server: list[ServerEvent] = field(default_factory=list)
    schemas: dict[str, dict] = field(default_factory=dict)


def reference() -> Reference:
    """The registry after every handler module was imported (chat.sockets.handlers)."""
    import chat.sockets.handlers  # noqa: F401 - registers the handlers, and so their descriptions

    return Reference(
        client=sorted(CLIENT_EVENTS.values(), key=lambda e: e.name),
        server=sorted(SERVER_EVENTS.values(), key=lambda e: e.name),
        schemas=dict(SCHEMAS),
    )
