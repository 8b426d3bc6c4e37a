"""Payload validation for socket events and REST bodies alike: shape only, with DRF serializers.

Wire names (`chatHeaderId`, `SkipCount`) stop here: validators map them to snake_case. A payload that
is not an object, lacks a required field or has a field of the wrong type is `invalid`, with a
message that names the field.
"""

from __future__ import annotations

import uuid

from rest_framework import serializers

from chat.errors import Invalid


def _first_error(detail, prefix: str = "") -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        name = prefix if field == "non_field_errors" else (f"{prefix}.{field}" if prefix else str(field))
        return _first_error(value, name)
    if isinstance(detail, list) and detail:
        first = detail[0]
        if isinstance(first, (dict, list)):
            return _first_error(first, prefix)
        return f"{prefix}: {first}" if prefix else str(first)
    return f"{prefix}: {detail}" if prefix else str(detail)


def validate(serializer_class: type[serializers.Serializer], payload: dict) -> dict:
    """Validated data of `payload`, or `invalid` naming the first bad field."""
    serializer = serializer_class(data=payload)
    if not serializer.is_valid():
        raise Invalid(_first_error(serializer.errors))
    return serializer.validated_data


class StrictIntegerField(serializers.IntegerField):
    """An integer or a string of digits (the spec sends some ids as strings); never a bool or a float."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or isinstance(data, float):
            self.fail("invalid")
        return super().to_internal_value(data)


# Ids are positive 64-bit integers in the database; a larger number is malformed, not "someone else's
# chat", and would overflow the database driver.
MAX_ID = 2**63 - 1


class IdField(StrictIntegerField):
    """A chat or message id."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class CountField(StrictIntegerField):
    """An optional cursor, offset or count: zero or more."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)


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
