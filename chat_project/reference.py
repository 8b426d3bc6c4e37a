"""`/docs/` (an HTML reference of every socket event) and `/api/asyncapi.json`, both made from the
registry of socket events (chat/sockets/registry.py), so neither can drift from the handlers.

Public, like /api/docs/ and /api/schema/: they describe the API, they hold no data.
"""

from __future__ import annotations

import json
import re

from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from chat.sockets import registry
from chat.sockets.asyncapi import asyncapi_document

_REF = re.compile(r"&quot;#/components/schemas/([\w.-]+)&quot;")
_CODE = re.compile(r"`([^`]+)`")


def _prose_html(text: str) -> str:
    """A description, escaped, with `backticks` as <code>."""
    return mark_safe(_CODE.sub(r"<code>\1</code>", escape(text)))


def _json_html(value) -> str:
    """Pretty JSON, escaped, with each schema reference a link to that schema below."""
    text = escape(json.dumps(value, indent=2, ensure_ascii=False))
    return mark_safe(_REF.sub(r'&quot;<a href="#schema-\1">#/components/schemas/\1</a>&quot;', text))


def _type_of(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "oneOf" in schema:
        return " or ".join(_type_of(s) for s in schema["oneOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    extra = [
        f"{key} {schema[key]}" for key in ("minimum", "maximum", "minLength", "maxLength", "maxItems") if key in schema
    ]
    if "format" in schema:
        extra.insert(0, schema["format"])
    return kind + (f" ({', '.join(extra)})" if extra else "")


def _fields(schema: dict) -> list[dict]:
    required = set(schema.get("required", ()))
    return [
        {"name": name, "type": _type_of(prop), "required": name in required, "description": prop.get("description", "")}
        for name, prop in schema.get("properties", {}).items()
    ]


@require_safe
def socket_docs(request):
    reference = registry.reference()
    client = [
        {
            "event": event,
            "fields": _fields(event.payload_schema()),
            "ack": _json_html(event.ack),
            "example": _json_html(event.example),
            "ack_example": _json_html(event.ack_example),
            "summary": _prose_html(event.summary),
            "rules": _prose_html(event.rules),
        }
        for event in reference.client
    ]
    server = [
        {
            "event": event,
            "summary": _prose_html(event.summary),
            "payload": _json_html(event.payload),
            "example": _json_html(event.example),
        }
        for event in reference.server
    ]
    schemas = [{"name": name, "schema": _json_html(schema)} for name, schema in sorted(reference.schemas.items())]
    return TemplateResponse(
        request,
        "docs/index.html",
        {"client": client, "server": server, "schemas": schemas, "error_codes": registry.ERROR_CODES},
    )


@require_safe
def asyncapi_json(request):
    document = asyncapi_document(host=request.get_host(), protocol="wss" if request.is_secure() else "ws")
    return JsonResponse(document, json_dumps_params={"ensure_ascii": False})
