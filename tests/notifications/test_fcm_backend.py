"""The FCM backend with firebase-admin's `messaging.send_each` replaced at that one boundary (no
network): the messages it builds, every error FCM can answer, token deletion, Retry-After.

The app is initialised for real from a service-account file made for the test (a fresh RSA key), so
the credentials path is exercised too.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from email.utils import format_datetime

import pytest
import requests
from django.utils import timezone
from firebase_admin import exceptions, messaging

from chat.services.chats import chat_direct_get_or_create
from notifications.backends import fcm
from notifications.backends.base import Outcome, OutgoingPush
from notifications.models import Device, Push, PushKind, PushState
from notifications.worker import deliver_due
from tests.notifications.conftest import add_device, queue_message

FCM = "notifications.backends.fcm.PushBackend"


@pytest.fixture(scope="module")
def service_account_json() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "chat-test",
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": "push@chat-test.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


@pytest.fixture
def fcm_settings(settings, tmp_path, service_account_json):
    path = tmp_path / "service-account.json"
    path.write_text(service_account_json)
    settings.PUSH_BACKEND = FCM
    settings.FIREBASE_CREDENTIALS = str(path)
    settings.PUSH_RETRY_BASE_SECONDS = 5
    settings.PUSH_MAX_ATTEMPTS = 8
    fcm.reset_app()
    yield settings
    fcm.reset_app()


class FakeFCM:
    """Stands in for `messaging.send_each`: records the messages, answers what the test says."""

    def __init__(self) -> None:
        self.calls: list[list[messaging.Message]] = []
        self.answer = lambda m: messaging.SendResponse({"name": f"projects/chat-test/messages/{id(m)}"}, None)
        self.raise_exc: BaseException | None = None

    def __call__(self, messages, dry_run=False, app=None):
        assert app is not None and app.name == fcm.APP_NAME and app.project_id == "chat-test"
        assert len(messages) <= 500
        self.calls.append(list(messages))
        if self.raise_exc is not None:
            raise self.raise_exc
        return messaging.BatchResponse([self.answer(m) for m in messages])

    @property
    def messages(self) -> list[messaging.Message]:
        return [m for call in self.calls for m in call]


@pytest.fixture
def fake_fcm(monkeypatch, fcm_settings):
    fake = FakeFCM()
    monkeypatch.setattr(messaging, "send_each", fake)
    return fake


def http_response(status: int, retry_after: str | None = None, body: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    response._content = json.dumps(body or {}).encode()
    return response


def failing(exc: BaseException):
    return lambda message: messaging.SendResponse(None, exc)


# --- messages -------------------------------------------------------------------------------------


def test_message_push_has_notification_data_android_and_apns_sections(fake_fcm):
    push = OutgoingPush(
        push_id=1,
        token="tok-1",
        platform="ios",
        user_id="u1",
        kind="message",
        title="Alice · Team",
        body="hello",
        data={"chatHeaderId": "9", "messageId": "5", "messageType": "0", "senderId": "s"},
        badge=3,
        chat_id=9,
    )
    results = fcm.PushBackend().send_messages([push])
    assert [r.outcome for r in results] == [Outcome.SENT]
    assert results[0].message_id.startswith("projects/chat-test/messages/")
    (message,) = fake_fcm.messages
    assert message.token == "tok-1"
    assert (message.notification.title, message.notification.body) == ("Alice · Team", "hello")
    assert message.data == {"chatHeaderId": "9", "messageId": "5", "messageType": "0", "senderId": "s"}
    assert message.android.collapse_key == "chat-9"
    assert message.android.notification.tag == "chat-9"
    assert message.android.notification.sound == "default"
    aps = message.apns.payload.aps
    assert (aps.badge, aps.sound, aps.thread_id) == (3, "default", "chat-9")
    # It is a message firebase-admin would send as it is.
    encoded = messaging._MessagingService.encode_message(message)
    assert encoded["apns"]["payload"]["aps"]["thread-id"] == "chat-9"


def test_read_push_is_data_only(fake_fcm):
    push = OutgoingPush(2, "tok", "ios", "u1", "read", data={"type": "read", "chatHeaderId": "9"}, badge=0, chat_id=9)
    fcm.PushBackend().send_messages([push])
    (message,) = fake_fcm.messages
    assert message.notification is None
    assert message.android.notification is None
    assert message.apns.payload.aps.content_available is True
    assert message.apns.payload.aps.badge == 0
    assert message.apns.headers["apns-push-type"] == "background"


def test_send_each_gets_batches_of_at_most_500(fake_fcm):
    pushes = [OutgoingPush(i, f"tok-{i}", "android", "u", "message", "t", "b", chat_id=1) for i in range(1201)]
    results = fcm.PushBackend().send_messages(pushes)
    assert [len(call) for call in fake_fcm.calls] == [500, 500, 201]
    assert len(results) == 1201 and all(r.outcome is Outcome.SENT for r in results)


# --- every error class, through the worker --------------------------------------------------------

NOW = timezone.now().replace(microsecond=0)
LATER = NOW + timedelta(seconds=90)

ERRORS = {
    "unregistered": (
        lambda: messaging.UnregisteredError("Requested entity was not found.", http_response=http_response(404)),
        PushState.DROPPED,
        False,
        None,
    ),
    "sender_id_mismatch": (
        lambda: messaging.SenderIdMismatchError("SenderId mismatch", http_response=http_response(403)),
        PushState.DROPPED,
        False,
        None,
    ),
    "invalid_token": (
        lambda: exceptions.InvalidArgumentError("The registration token is not a valid FCM registration token"),
        PushState.DROPPED,
        False,
        None,
    ),
    "invalid_token_by_field": (
        lambda: exceptions.InvalidArgumentError(
            "Request contains an invalid argument.",
            http_response=http_response(
                400, body={"error": {"details": [{"fieldViolations": [{"field": "message.token"}]}]}}
            ),
        ),
        PushState.DROPPED,
        False,
        None,
    ),
    "invalid_payload": (
        lambda: exceptions.InvalidArgumentError("Invalid value at 'message.data[0].value' (TYPE_STRING), 12"),
        PushState.FAILED,
        True,
        None,
    ),
    "quota_with_retry_after": (
        lambda: messaging.QuotaExceededError("Sending limit exceeded", http_response=http_response(429, "120")),
        PushState.PENDING,
        True,
        120,
    ),
    "quota_without_retry_after": (
        lambda: messaging.QuotaExceededError("Sending limit exceeded", http_response=http_response(429)),
        PushState.PENDING,
        True,
        60,  # FCM's minimum initial delay for quota errors
    ),
    "resource_exhausted": (
        lambda: exceptions.ResourceExhaustedError("exhausted", http_response=http_response(429, "75")),
        PushState.PENDING,
        True,
        75,
    ),
    "unavailable_retry_after_seconds": (
        lambda: exceptions.UnavailableError("The service is unavailable", http_response=http_response(503, "30")),
        PushState.PENDING,
        True,
        30,
    ),
    "unavailable_retry_after_date": (
        lambda: exceptions.UnavailableError(
            "The service is unavailable",
            http_response=http_response(503, format_datetime(timezone.now() + timedelta(seconds=600), usegmt=True)),
        ),
        PushState.PENDING,
        True,
        "~600",
    ),
    "unavailable_short_retry_after_keeps_backoff": (
        lambda: exceptions.UnavailableError("unavailable", http_response=http_response(503, "1")),
        PushState.PENDING,
        True,
        5,
    ),
    "internal": (
        lambda: exceptions.InternalError("Internal error", http_response=http_response(500)),
        PushState.PENDING,
        True,
        5,
    ),
    "deadline_exceeded": (lambda: exceptions.DeadlineExceededError("timed out"), PushState.PENDING, True, 5),
    "unknown": (lambda: exceptions.UnknownError("???"), PushState.PENDING, True, 5),
    "third_party_auth": (
        lambda: messaging.ThirdPartyAuthError("APNs certificate invalid", http_response=http_response(401)),
        PushState.PENDING,
        True,
        5,
    ),
    "unauthenticated": (
        lambda: exceptions.UnauthenticatedError("Request had invalid authentication credentials"),
        PushState.PENDING,
        True,
        5,
    ),
    "permission_denied": (
        lambda: exceptions.PermissionDeniedError("Permission 'cloudmessaging.messages.create' denied"),
        PushState.PENDING,
        True,
        5,
    ),
}
AUTH_CASES = {"third_party_auth", "unauthenticated", "permission_denied"}


@pytest.fixture
def queued(make_user):
    """One message push to Bob's phone, queued through the real service: (push, device)."""

    def make():
        (push,) = queue_message(make_user, due=NOW)
        return push, push.device

    return make


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(ERRORS))
def test_each_fcm_error(case, fake_fcm, queued, caplog):
    make_exc, state, device_kept, delay = ERRORS[case]
    push, device = queued()
    fake_fcm.answer = failing(make_exc())

    with caplog.at_level(logging.INFO, logger="notifications"):
        report = deliver_due(now=NOW)

    push.refresh_from_db()
    assert report.claimed == 1
    assert push.state == state, push.last_error
    assert push.attempts == 1
    assert type(make_exc()).__name__ in push.last_error
    assert Device.objects.filter(pk=device.pk).exists() is device_kept
    if state == PushState.PENDING:
        waited = (push.next_attempt_at - NOW).total_seconds()
        if isinstance(delay, str):
            assert abs(waited - 600) <= 3
        else:
            assert waited == delay
    if not device_kept:
        assert "deleted 1 device token" in caplog.text
    if case in AUTH_CASES:
        assert any(r.levelno == logging.ERROR and "credentials refused" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_a_dead_token_drops_only_its_own_row(fake_fcm, make_user):
    from django.db import transaction

    from chat.services.messages import message_create

    alice, bob = make_user("Alice"), make_user("Bob")
    dead, alive = add_device(bob, token="dead"), add_device(bob, token="alive")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    with transaction.atomic():
        message_create(sender=alice, chat_id=chat.pk, message_type=0, text="one")
        message_create(sender=alice, chat_id=chat.pk, message_type=0, text="two")
    fake_fcm.answer = lambda m: (
        messaging.SendResponse(None, messaging.UnregisteredError("gone"))
        if m.token == "dead"
        else messaging.SendResponse({"name": "ok"}, None)
    )
    deliver_due(now=timezone.now() + timedelta(seconds=1), limit=1)  # the first push of each device
    deliver_due(now=timezone.now() + timedelta(seconds=1))
    states = sorted(Push.objects.values_list("token", "state"))
    # The second push to the dead token was never sent: its device was gone by then.
    assert states == [("alive", "sent"), ("alive", "sent"), ("dead", "dropped"), ("dead", "dropped")]
    assert [m.token for m in fake_fcm.messages].count("dead") == 1
    assert list(Device.objects.values_list("token", flat=True)) == ["alive"]
    assert Device.objects.filter(pk=alive.pk).exists() and not Device.objects.filter(pk=dead.pk).exists()


@pytest.mark.django_db
def test_whole_call_failing_on_credentials_keeps_tokens_and_logs_loudly(fake_fcm, queued, caplog):
    import google.auth.exceptions

    push, device = queued()
    refresh = google.auth.exceptions.RefreshError("invalid_grant: Invalid JWT Signature.")
    fake_fcm.raise_exc = exceptions.UnknownError("Unknown error while making remote service calls", cause=refresh)
    with caplog.at_level(logging.ERROR, logger="notifications"):
        deliver_due(now=NOW)
    push.refresh_from_db()
    assert push.state == PushState.PENDING
    assert "UnknownError" in push.last_error
    assert Device.objects.filter(pk=device.pk).exists()
    assert "credentials refused" in caplog.text


@pytest.mark.django_db
def test_missing_credentials_file_keeps_tokens_and_retries(fcm_settings, queued, caplog, tmp_path):
    fcm_settings.FIREBASE_CREDENTIALS = str(tmp_path / "nope.json")
    push, device = queued()
    with caplog.at_level(logging.ERROR, logger="notifications"):
        deliver_due(now=NOW)
    push.refresh_from_db()
    assert push.state == PushState.PENDING
    assert "cannot initialise firebase-admin" in push.last_error
    assert Device.objects.filter(pk=device.pk).exists()
    assert "FCM push disabled" in caplog.text


@pytest.mark.django_db
def test_credentials_may_be_given_as_json_text(fake_fcm, fcm_settings, service_account_json, queued):
    fcm_settings.FIREBASE_CREDENTIALS = service_account_json
    push, _ = queued()
    deliver_due(now=NOW)
    push.refresh_from_db()
    assert push.state == PushState.SENT and push.provider_message_id.startswith("projects/chat-test/")


@pytest.mark.django_db
def test_retry_after_then_success(fake_fcm, queued):
    push, _ = queued()
    fake_fcm.answer = failing(exceptions.UnavailableError("down", http_response=http_response(503, "40")))
    deliver_due(now=NOW)
    push.refresh_from_db()
    assert push.next_attempt_at == NOW + timedelta(seconds=40)

    fake_fcm.answer = lambda m: messaging.SendResponse({"name": "ok"}, None)
    assert deliver_due(now=NOW + timedelta(seconds=39)).claimed == 0  # Retry-After is honoured
    assert deliver_due(now=NOW + timedelta(seconds=40)).sent == 1
    push.refresh_from_db()
    assert (push.state, push.attempts, push.last_error) == (PushState.SENT, 2, "")
    assert push.kind == PushKind.MESSAGE and push.badge == 1
