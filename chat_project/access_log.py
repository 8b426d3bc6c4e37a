"""Tokens never reach the logs (CONTRACT §11), also when a client sends one in the query string.

Socket.IO clients may put the token in the URL (`/socket.io/?userId=..&accessToken=..&EIO=4&
transport=polling`), and uvicorn logs that URL with its query on every polling request (the access
log) and on every WebSocket handshake (`uvicorn.error`: `"WebSocket /socket.io/?..." [accepted]`).

The filter sits on those loggers themselves, not on a handler, because uvicorn configures its own
logging (its `LOGGING_CONFIG`, `--log-config`, `--log-level`, `--no-access-log`) apart from Django's:
`dictConfig` replaces a logger's handlers but keeps its filters, so the filter holds whichever runs
first, uvicorn's configuration or Django's (`make run`, `--workers`, an in-process `uvicorn.Server`,
gunicorn's uvicorn worker, `runserver`). It is installed by Django's logging set-up
(`LOGGING_CONFIG` in settings), which every process that serves the app runs.
"""

from __future__ import annotations

import logging
import logging.config
import re

REDACTED = "[REDACTED]"
# `accessToken`, `AccessToken`, `access_token`, `token`, `Authorization` as query parameters, raw or
# percent-encoded (`access%5Ftoken`); the value runs to the next `&`, `#`, quote or blank.
_TOKEN_PARAMETER = re.compile(
    r"(?i)((?:^|[?&;])(?:access(?:_|%5f)?token|token|authorization)=)[^&#;\s\"']*",
)
# Loggers that write request URLs: uvicorn's access log and WebSocket handshakes, gunicorn's access
# log, and runserver's request log.
URL_LOGGERS = ("uvicorn.access", "uvicorn.error", "gunicorn.access", "django.server")


def redact(text: str) -> str:
    """`text` with the value of every token parameter of a URL in it replaced by [REDACTED]."""
    if "=" not in text:
        return text
    return _TOKEN_PARAMETER.sub(rf"\g<1>{REDACTED}", text)


def _redacted(value):
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Rewrites a record's message and arguments so that no token value is formatted into the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


def install_redaction() -> None:
    """Put the filter on each of URL_LOGGERS once (calling it again changes nothing)."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def configure_logging(logging_settings: dict) -> None:
    """Django's `LOGGING_CONFIG`: `dictConfig(LOGGING)` as Django's default does, then the redaction."""
    if logging_settings:
        logging.config.dictConfig(logging_settings)
    install_redaction()
