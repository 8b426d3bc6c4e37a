"""Payload validation: shape only. Socket events use compiled shapes; REST bodies use DRF fields.

Wire names (`chatHeaderId`, `SkipCount`) stop here: validators map them to snake_case. A payload that
is not an object, lacks a required field or has a field of the wrong type is `invalid`, with a
message that names the field.

Socket payloads are checked on the event loop for every event, so they do not go through DRF: a DRF
`Serializer` deep-copies its declared fields on every instantiation, about 90 µs per `createMessage`
(shared/PERFORMANCE.md). A `Shape` is built once, at import, from a list of `Field`s; checking a
payload is a loop over plain functions, a few µs. It does what the DRF serializers it replaced did,
check for check and word for word (the messages are DRF's and Django's own strings, so they also
translate the same): fields in declared order, the first bad one named as `field: message`
(`ids.3: ...`, `RoomsWithLastMessageIds.0.ChatHeaderId: ...` inside lists), a field missing, null,
blank or of the wrong type refused as DRF refused it, digit strings accepted as integers the way
DRF's `IntegerField` accepts them. tests/sockets/test_payload_shapes.py keeps those serializers as
the reference and compares the two over generated payloads for every event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import fields as drf_fields
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from chat.errors import Invalid

# Ids are positive 64-bit integers in the database; a larger number is malformed, not "someone else's
# chat", and would overflow the database driver.
MAX_ID = 2**63 - 1


# --- the texts: DRF's and Django's own (lazy, so translated as they were) ---------------------------

_FIELD = drf_fields.Field.default_error_messages
_INTEGER = drf_fields.IntegerField.default_error_messages
_CHAR = drf_fields.CharField.default_error_messages
_LIST = drf_fields.ListField.default_error_messages
REQUIRED = _FIELD["required"]
NULL = _FIELD["null"]
NOT_AN_INTEGER = _INTEGER["invalid"]
INTEGER_TOO_LONG = _INTEGER["max_string_length"]
NOT_A_STRING = _CHAR["invalid"]
BLANK = _CHAR["blank"]
NOT_A_BOOLEAN = drf_fields.BooleanField.default_error_messages["invalid"]
NOT_A_UUID = drf_fields.UUIDField.default_error_messages["invalid"]
NOT_AN_OBJECT = serializers.Serializer.default_error_messages["invalid"]
NULL_CHARACTERS = ProhibitNullCharactersValidator.message
SURROGATES = ProhibitSurrogateCharactersValidator.message


class Bad(Exception):
    """One field's first error, with the path below the field that raised it."""

    def __init__(self, message, path: tuple = ()):
        super().__init__(message)
        self.message = message
        self.path = path

    def within(self, name) -> Bad:
        self.path = (name, *self.path)
        return self

    def text(self) -> str:
        if not self.path:
            return str(self.message)
        return f"{'.'.join(str(part) for part in self.path)}: {self.message}"


MISSING = object()
Check = Callable[[object], object]


def described(check: Check, schema: dict) -> Check:
    """Attach the JSON Schema of what `check` accepts (read by the event reference, /docs/ and
    /api/asyncapi.json; chat.sockets.registry): the schema is written next to the check it describes."""
    check.json_schema = schema
    return check


def json_schema_of(check: Check | Shape) -> dict:
    """The JSON Schema of a check or a shape (`{}`, anything, for a check that says nothing)."""
    if isinstance(check, Shape):
        return check.json_schema()
    return dict(getattr(check, "json_schema", {}))


# --- value checks: each takes a value that is neither missing nor None -----------------------------

_MAX_INT_STRING = drf_fields.IntegerField.MAX_STRING_LENGTH
_DECIMAL_TAIL = drf_fields.IntegerField.re_decimal  # "12.0" is 12, as DRF has it


def integer(*, min_value: int | None = None, max_value: int | None = None) -> Check:
    """An integer or a string of digits (the spec sends some ids as strings); never a bool or a float."""
    # Only an int within these bounds takes the fast path. Beyond them DRF's own conversion decides,
    # as it did: it goes through str(), which Python refuses for an int of more than 4,300 digits.
    low = -(2**4096) if min_value is None else min_value
    high = 2**4096 if max_value is None else max_value

    def check(value):
        if type(value) is not int or not low <= value <= high:  # the rare path: DRF's, step by step
            if isinstance(value, (bool, float)):
                raise Bad(NOT_AN_INTEGER)
            if isinstance(value, str) and len(value) > _MAX_INT_STRING:
                raise Bad(INTEGER_TOO_LONG)
            try:  # DRF's own conversion, quirks included (" 7 ", "7.00", "١٢" are integers)
                value = int(_DECIMAL_TAIL.sub("", str(value)))
            except (ValueError, TypeError):
                raise Bad(NOT_AN_INTEGER) from None
            if max_value is not None and value > max_value:
                raise Bad(_INTEGER["max_value"].format(max_value=max_value))
            if min_value is not None and value < min_value:
                raise Bad(_INTEGER["min_value"].format(min_value=min_value))
        return value

    bounds = {"minimum": min_value} if min_value is not None else {}
    if max_value is not None:
        bounds["maximum"] = max_value
    # Documented as an integer, what clients should send; a string of digits is accepted too.
    return described(check, {"type": "integer", **bounds})


def object_id() -> Check:
    """A chat or message id."""
    return integer(min_value=1, max_value=MAX_ID)


def count() -> Check:
    """A cursor, offset or count: zero or more."""
    return integer(min_value=0, max_value=MAX_ID)


def boolean(value):
    if isinstance(value, bool):
        return value
    raise Bad(NOT_A_BOOLEAN)


described(boolean, {"type": "boolean"})


def _first_surrogate(value: str) -> str | None:
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # UTF-8 refuses surrogates and nothing else
        return SURROGATES.format(code_point=ord(value[exc.start]))
    return None


def string(*, trim: bool = True, allow_blank: bool = False, max_length: int | None = None) -> Check:
    """A string, never a number or a bool coerced to one; stripped unless `trim=False`; no NUL and no
    lone surrogates (no database stores them)."""

    def check(value):
        if not isinstance(value, str):
            raise Bad(NOT_A_STRING)
        if trim:
            value = value.strip()
        if not value:
            if allow_blank:
                return ""
            raise Bad(BLANK)
        if max_length is not None and len(value) > max_length:
            raise Bad(_CHAR["max_length"].format(max_length=max_length))
        if "\x00" in value:
            raise Bad(NULL_CHARACTERS)
        surrogate = _first_surrogate(value)
        if surrogate is not None:
            raise Bad(surrogate)
        return value

    schema = {"type": "string"} if allow_blank else {"type": "string", "minLength": 1}
    if max_length is not None:
        schema["maxLength"] = max_length
    return described(check, schema)


def text(*, max_length: int | None = None) -> Check:
    """A string kept exactly as sent (the services trim), blank allowed, that the database can store:
    JSON allows lone UTF-16 surrogates, which no UTF-8 database accepts ("Not a valid string.")."""

    def check(value):
        if not isinstance(value, str):
            raise Bad(NOT_A_STRING)
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Bad(NOT_A_STRING) from None
        if max_length is not None and len(value) > max_length:
            raise Bad(_CHAR["max_length"].format(max_length=max_length))
        if "\x00" in value:
            raise Bad(NULL_CHARACTERS)
        return value

    return described(check, {"type": "string"} if max_length is None else {"type": "string", "maxLength": max_length})


def guid(value):
    """A GUID given as a string (an integer is no GUID here)."""
    if not isinstance(value, str):
        raise Bad(NOT_A_UUID)
    try:
        return uuid.UUID(hex=value)
    except ValueError:
        raise Bad(NOT_A_UUID) from None


described(guid, {"type": "string", "format": "uuid"})


def list_of(item: Check | Shape, *, max_length: int | None = None) -> Check:
    """A list whose items are checked one by one; an item may not be null."""
    check_item = item.run if isinstance(item, Shape) else item

    def check(value):
        if isinstance(value, (str, Mapping)) or not hasattr(value, "__iter__"):
            raise Bad(_LIST["not_a_list"].format(input_type=type(value).__name__))
        items = []
        for index, each in enumerate(value):
            try:
                if each is None:
                    raise Bad(NULL)
                items.append(check_item(each))
            except Bad as exc:
                raise exc.within(index) from None
        if max_length is not None and len(items) > max_length:
            raise Bad(_LIST["max_length"].format(max_length=max_length))
        return items

    schema = {"type": "array", "items": json_schema_of(item)}
    if max_length is not None:
        schema["maxItems"] = max_length
    return described(check, schema)


# --- shapes --------------------------------------------------------------------------------------


class Field:
    """One wire field: its name on the wire, its key in the validated data, its check."""

    __slots__ = ("check", "key", "nullable", "required", "wire")

    def __init__(self, wire: str, check: Check, *, key: str | None = None, required=True, nullable=False):
        self.wire, self.key, self.check = wire, key or wire, check
        self.required, self.nullable = required, nullable


def optional(wire: str, check: Check, *, key: str | None = None) -> Field:
    """A field that may be missing (then absent from the validated data) or null."""
    return Field(wire, check, key=key, required=False, nullable=True)


class Shape:
    """A payload's fields, checked in declared order; the first bad one is the error.

    `finish`, when given, gets the checked fields (only those present) and returns the validated
    data; it raises `Bad` for a rule across fields (a path of `()` is a payload-wide error).
    """

    def __init__(self, *fields: Field, finish: Callable[[dict], dict] | None = None):
        self.fields = tuple((f.wire, f.key, f.check, f.required, f.nullable) for f in fields)
        self.finish = finish

    def json_schema(self) -> dict:
        """The JSON Schema of the payloads this shape accepts. Unknown fields are ignored, so allowed;
        a rule across fields (`finish`) is not expressed: the event's reference says it in words."""
        properties = {}
        for wire, _key, check, _required, nullable in self.fields:
            schema = json_schema_of(check)
            properties[wire] = {"oneOf": [schema, {"type": "null"}]} if nullable and schema else schema
        required = [wire for wire, _key, _check, is_required, _nullable in self.fields if is_required]
        return {"type": "object", "properties": properties, **({"required": required} if required else {})}

    def run(self, payload) -> dict:
        if not isinstance(payload, Mapping):
            raise Bad(NOT_AN_OBJECT.format(datatype=type(payload).__name__))
        data = {}
        get = payload.get
        for wire, key, check, required, nullable in self.fields:
            value = get(wire, MISSING)
            if value is None:
                if not nullable:
                    raise Bad(NULL, (wire,))
                data[key] = None
            elif value is MISSING:
                if required:
                    raise Bad(REQUIRED, (wire,))
            else:
                try:
                    data[key] = check(value)
                except Bad as exc:
                    raise exc.within(wire) from None
        return data if self.finish is None else self.finish(data)

    def validate(self, payload) -> dict:
        """Validated data of `payload`, or `invalid` naming the first bad field."""
        if payload is None:
            raise Invalid("No data provided")  # DRF's text for a serializer given no data
        try:
            return self.run(payload)
        except Bad as exc:
            raise Invalid(exc.text()) from None


def validate(shape: Shape, payload: dict) -> dict:
    """Validated data of `payload`, or `invalid` naming the first bad field."""
    return shape.validate(payload)


# --- DRF fields for REST bodies ------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string, never a number or a bool coerced to one."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def parse_user_id(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
