"""One error family for every transport (CONTRACT §4 and §6).

Services raise these; the socket layer turns them into `{"error", "code"}` acks and the DRF exception
handler into the REST envelope. Anything else is a bug: logged with its traceback, answered
`server_error`.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

logger = logging.getLogger("chat.errors")


class ApplicationError(Exception):
    code = "server_error"
    http_status = 500
    default_message = "Something went wrong on our side."

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)

    def as_dict(self) -> dict:
        return {"error": self.message, "code": self.code}


class Unauthorized(ApplicationError):
    code = "unauthorized"
    http_status = 401
    default_message = "A valid access token is required."


class AccountDisabled(Unauthorized):
    """The acting user is deactivated (or gone), as a service's own query found (the createMessage
    batch's send check): a socket's event so refused ends its session (chat.sockets.message_batch)."""

    default_message = "This account is disabled."


class Forbidden(ApplicationError):
    code = "forbidden"
    http_status = 403
    default_message = "You may not do that."


class NotFound(ApplicationError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class Invalid(ApplicationError):
    code = "invalid"
    http_status = 400
    default_message = "The request is not valid."


class Blocked(ApplicationError):
    code = "blocked"
    http_status = 403
    default_message = "You cannot message this user."


class RateLimited(ApplicationError):
    code = "rate_limited"
    http_status = 429
    default_message = "Too many requests; slow down."


class PayloadTooLarge(ApplicationError):
    code = "invalid"
    http_status = 413
    default_message = "The upload is too large."


def error_envelope(message: str, code: str) -> dict:
    return {"success": False, "data": None, "message": message, "code": code}


def success_envelope(data) -> dict:
    return {"success": True, "data": data, "message": None}


def _drf_message(detail) -> str:
    """Flatten a DRF ValidationError detail into one sentence that names the field."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = _drf_message(value)
            parts.append(text if field == "non_field_errors" else f"{field}: {text}")
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_drf_message(item) for item in detail)
    return str(detail)


_DRF_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "invalid",
    406: "invalid",
    413: "invalid",
    415: "invalid",
    429: "rate_limited",
}


def rest_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error leaves as `{success: false, data: null, message, code}`."""
    if isinstance(exc, ApplicationError):
        return Response(error_envelope(exc.message, exc.code), status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_envelope("The request body is too large.", "invalid"), status=413)
    if isinstance(exc, SuspiciousOperation):
        # Too many fields or files, a malformed multipart body: the client's fault, never a 500.
        return Response(error_envelope(str(exc) or "The request is not valid.", "invalid"), status=400)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        message = _drf_message(exc.detail)
        response = Response(error_envelope(message, "unauthorized"), status=status.HTTP_401_UNAUTHORIZED)
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if isinstance(exc, drf_exceptions.APIException):
        code = _DRF_CODES.get(exc.status_code, "invalid" if exc.status_code < 500 else "server_error")
        response = Response(error_envelope(_drf_message(exc.detail), code), status=exc.status_code)
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))
        return response
    logger.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
    return Response(error_envelope(ApplicationError.default_message, "server_error"), status=500)
