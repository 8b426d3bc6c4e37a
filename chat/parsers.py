"""How deep a JSON document may nest, for socket payloads and REST bodies alike (CONTRACT §11)."""

from __future__ import annotations

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The payload object is level 1; each object or array inside adds one.
MAX_JSON_DEPTH = 32


def depth_exceeds(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` nests objects and arrays more than `limit` levels deep; iterative, so a
    document of any depth is safe to ask about."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a depth bound: a body nested too deep is a 400, where the standard
    library's parser raised RecursionError (a 500) at a few thousand levels."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = orjson.loads(stream.read() if stream is not None else b"")
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if depth_exceeds(data):
            raise ParseError(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
        return data
