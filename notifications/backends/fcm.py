"""Firebase Cloud Messaging through firebase-admin (`messaging.send_each`, at most 500 per call).

Credentials: `FIREBASE_CREDENTIALS` (a service-account JSON file, or the JSON itself), else
Google's application default credentials (`GOOGLE_APPLICATION_CREDENTIALS`, or the metadata server).
The app is initialised on first use, under its own name so that it never clashes with a default app
the project may initialise for something else.

Every error FCM can answer is mapped to an `Outcome` (see `classify`), following
https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode:

| firebase-admin exception                         | outcome        |
|--------------------------------------------------|----------------|
| UnregisteredError (404 UNREGISTERED)              | INVALID_TOKEN  |
| SenderIdMismatchError (403 SENDER_ID_MISMATCH)    | INVALID_TOKEN  |
| InvalidArgumentError about the token (400)        | INVALID_TOKEN  |
| InvalidArgumentError about anything else (400)    | FATAL          |
| QuotaExceededError (429), ResourceExhaustedError  | RETRY, Retry-After or at least 60 s |
| UnavailableError (503), InternalError (500)       | RETRY, honouring Retry-After |
| DeadlineExceededError, UnknownError, others       | RETRY          |
| ThirdPartyAuthError (APNs / web push keys)        | AUTH           |
| UnauthenticatedError, PermissionDeniedError, NotFoundError (project) | AUTH |
| google.auth errors, missing credentials/project   | AUTH           |
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Sequence

import firebase_admin
from django.conf import settings
from firebase_admin import credentials, exceptions, messaging

from notifications.backends.base import BasePushBackend, Outcome, OutgoingPush, PushResult

logger = logging.getLogger("notifications.fcm")

APP_NAME = "chat-push"
MAX_BATCH = 500
QUOTA_MIN_DELAY = 60.0  # FCM: "exponential backoff with a minimum initial delay of 1 minute"

_app_lock = threading.Lock()


class CredentialsProblem(Exception):
    """The FCM app could not be set up: no usable credentials or project."""


def _credential():
    raw = settings.FIREBASE_CREDENTIALS
    if raw:
        if raw.lstrip().startswith("{"):
            return credentials.Certificate(json.loads(raw))
        return credentials.Certificate(raw)
    return credentials.ApplicationDefault()


def get_app() -> firebase_admin.App:
    """The firebase-admin app, initialised once per process (a failure is retried on the next call)."""
    with _app_lock:
        try:
            return firebase_admin.get_app(APP_NAME)
        except ValueError:
            pass
        try:
            app = firebase_admin.initialize_app(
                _credential(), options={"httpTimeout": settings.PUSH_FCM_TIMEOUT}, name=APP_NAME
            )
        except Exception as exc:
            raise CredentialsProblem(f"cannot initialise firebase-admin: {exc}") from exc
        if not app.project_id:
            firebase_admin.delete_app(app)
            raise CredentialsProblem("firebase-admin has no project id: use a service-account file")
        return app


def reset_app() -> None:
    """Forget the initialised app (tests, or after rotating credentials)."""
    with _app_lock:
        try:
            firebase_admin.delete_app(firebase_admin.get_app(APP_NAME))
        except ValueError:
            pass


def retry_after_seconds(exc: BaseException, *, now: float | None = None) -> float | None:
    """The Retry-After of the HTTP answer behind `exc`: delta-seconds or an HTTP date."""
    response = getattr(exc, "http_response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _is_token_problem(exc: exceptions.InvalidArgumentError) -> bool:
    """INVALID_ARGUMENT covers both a bad token and a bad payload; only the first condemns the token."""
    if "token" in str(exc).lower():
        return True
    response = getattr(exc, "http_response", None)
    try:
        body = response.json() if response is not None else None
    except Exception:  # noqa: BLE001 - not JSON
        return False
    details = (body or {}).get("error", {}).get("details", []) if isinstance(body, dict) else []
    for detail in details:
        for violation in detail.get("fieldViolations", []) if isinstance(detail, dict) else []:
            if str(violation.get("field", "")).endswith("token"):
                return True
    return False


def _auth_cause(exc: BaseException) -> bool:
    import google.auth.exceptions

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, google.auth.exceptions.GoogleAuthError | CredentialsProblem):
            return True
        exc = getattr(exc, "cause", None) or exc.__cause__
    return False


def classify(exc: BaseException) -> PushResult:
    """What an exception from firebase-admin means for the push (see the module table)."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return PushResult(Outcome.INVALID_TOKEN, text)
    if isinstance(exc, exceptions.InvalidArgumentError):
        return PushResult(Outcome.INVALID_TOKEN if _is_token_problem(exc) else Outcome.FATAL, text)
    if isinstance(exc, exceptions.ResourceExhaustedError):  # QuotaExceededError included
        return PushResult(Outcome.RETRY, text, retry_after=max(retry_after_seconds(exc) or 0.0, QUOTA_MIN_DELAY))
    if _auth_cause(exc) or isinstance(
        exc, exceptions.UnauthenticatedError | exceptions.PermissionDeniedError | exceptions.NotFoundError
    ):
        # ThirdPartyAuthError is an UnauthenticatedError: the APNs certificate or web push key.
        return PushResult(Outcome.AUTH, text)
    if isinstance(exc, exceptions.FirebaseError):
        return PushResult(Outcome.RETRY, text, retry_after=retry_after_seconds(exc))
    if isinstance(exc, ValueError):
        # firebase-admin validates messages before sending: this payload will never be accepted.
        return PushResult(Outcome.FATAL, text)
    return PushResult(Outcome.RETRY, text)


def _tag(push: OutgoingPush) -> str | None:
    return f"chat-{push.chat_id}" if push.chat_id is not None else None


def _to_token(message: messaging.Message, token: str) -> messaging.Message:
    # firebase-admin 7 deprecates the `token=` argument for `fid` (Firebase installation ids), but
    # apps register FCM registration tokens (CONTRACT §6), which are not installation ids, and FCM
    # still takes them as `token`. Set after construction: same wire format, no warning per push.
    message.token = token
    return message


def build_message(push: OutgoingPush) -> messaging.Message:
    """The FCM message: notification + Android/APNs sections, or a data-only (silent) push."""
    data = {str(k): str(v) for k, v in push.data.items()}
    tag = _tag(push)
    if push.data_only:
        message = messaging.Message(
            data=data,
            android=messaging.AndroidConfig(priority="high", collapse_key=f"read-{push.chat_id}" if tag else None),
            apns=messaging.APNSConfig(
                headers={"apns-push-type": "background", "apns-priority": "5"},
                payload=messaging.APNSPayload(aps=messaging.Aps(content_available=True, badge=push.badge)),
            ),
        )
        return _to_token(message, push.token)
    message = messaging.Message(
        notification=messaging.Notification(title=push.title or None, body=push.body or None),
        data=data,
        android=messaging.AndroidConfig(
            priority="high",
            collapse_key=tag,
            notification=messaging.AndroidNotification(sound="default", tag=tag),
        ),
        apns=messaging.APNSConfig(
            headers={"apns-priority": "10"},
            payload=messaging.APNSPayload(aps=messaging.Aps(badge=push.badge, sound="default", thread_id=tag)),
        ),
    )
    return _to_token(message, push.token)


class PushBackend(BasePushBackend):
    def send_messages(self, pushes: Sequence[OutgoingPush]) -> list[PushResult]:
        if not pushes:
            return []
        try:
            app = get_app()
        except CredentialsProblem as exc:
            logger.error("FCM push disabled: %s", exc)
            return [PushResult(Outcome.AUTH, str(exc)) for _ in pushes]
        results: list[PushResult] = []
        for start in range(0, len(pushes), MAX_BATCH):
            results.extend(self._send_batch(list(pushes[start : start + MAX_BATCH]), app))
        return results

    def _send_batch(self, batch: list[OutgoingPush], app) -> list[PushResult]:
        built: list[messaging.Message | None] = []
        results: list[PushResult | None] = []
        for push in batch:
            try:
                built.append(build_message(push))
                results.append(None)
            except ValueError as exc:
                built.append(None)
                results.append(classify(exc))
        to_send = [m for m in built if m is not None]
        if not to_send:
            return results  # type: ignore[return-value]
        try:
            response = messaging.send_each(to_send, app=app)
            answers = [r.message_id if r.success else classify(r.exception) for r in response.responses]
        except Exception as exc:  # noqa: BLE001 - the whole call failed: every item shares the outcome
            failure = classify(exc)
            if failure.outcome is Outcome.FATAL:
                # One message firebase-admin refuses fails the call; find it by sending one at a time.
                answers = [self._send_one(m, app) for m in to_send]
            else:
                answers = [failure] * len(to_send)
        it = iter(answers)
        final = []
        for result in results:
            if result is not None:
                final.append(result)
                continue
            answer = next(it)
            final.append(PushResult.sent(answer) if isinstance(answer, str | None) else answer)
        return final

    @staticmethod
    def _send_one(message: messaging.Message, app) -> str | PushResult:
        try:
            response = messaging.send_each([message], app=app)
        except Exception as exc:  # noqa: BLE001
            return classify(exc)
        answer = response.responses[0]
        return answer.message_id if answer.success else classify(answer.exception)
