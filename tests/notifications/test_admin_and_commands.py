"""Moderators see pushes with their state and retry failed ones; send_test_push and run_push_worker."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from chat.models import User
from notifications.models import Push, PushKind, PushState
from notifications.services import push_test_create
from tests.notifications.conftest import add_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(client):
    staff = User.objects.create_superuser(name="Mod", password="pw-123456789")
    client.force_login(staff)
    return client


def failed_push(user, device) -> Push:
    """A push the worker gave up on: written directly, as eight failed sends would leave it."""
    return Push.objects.create(
        kind=PushKind.TEST,
        user=user,
        device=device,
        token=device.token,
        platform=device.platform,
        title="t",
        state=PushState.FAILED,
        attempts=8,
        last_error="UnavailableError: down",
    )


def test_admin_lists_pushes_with_state_filter_and_search(moderator, make_user):
    bob = make_user("Bob")
    failed = failed_push(bob, add_device(bob))
    url = reverse("admin:notifications_push_changelist")
    page = moderator.get(url, {"state__exact": "failed", "q": str(bob.pk)})  # by GUID: an index
    assert page.status_code == 200
    assert b"UnavailableError: down" in page.content
    assert moderator.get(reverse("admin:notifications_push_change", args=[failed.pk])).status_code == 200
    assert moderator.get(url, {"state__exact": "sent"}).context["cl"].result_count == 0


def test_admin_retry_action_queues_failed_pushes_again(moderator, make_user, outbox):
    bob = make_user("Bob")
    device = add_device(bob)
    failed = failed_push(bob, device)
    sent = Push.objects.create(  # written directly, as the worker leaves a push it sent
        kind=PushKind.TEST, user=bob, device=device, token=device.token, platform="android", state=PushState.SENT
    )
    response = moderator.post(
        reverse("admin:notifications_push_changelist"),
        {"action": "retry", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.state, failed.attempts) == (PushState.PENDING, 0)
    assert failed.next_attempt_at <= timezone.now()
    assert sent.state == PushState.SENT
    messages = [str(m) for m in response.context["messages"]]
    assert any("1 push queued again" in m for m in messages) and any("1 skipped" in m for m in messages)


def test_send_test_push_delivers_to_each_device_and_reports(make_user, outbox):
    bob = make_user("Bob")
    add_device(bob)
    add_device(bob, platform="ios")
    out = io.StringIO()
    call_command("send_test_push", str(bob.pk), stdout=out)
    assert "2 of 2 device(s) accepted the push." in out.getvalue()
    assert sorted(p.platform for p in outbox) == ["android", "ios"]
    assert {p.title for p in outbox} == {"Test notification"}
    assert set(Push.objects.values_list("state", flat=True)) == {PushState.SENT}


def test_send_test_push_without_devices_or_user(make_user, outbox):
    bob = make_user("Bob")
    out = io.StringIO()
    call_command("send_test_push", str(bob.pk), stdout=out)
    assert "no registered devices" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("send_test_push", "00000000-0000-4000-8000-000000000000")


def test_run_push_worker_once_delivers_what_is_due(make_user, outbox):
    bob = make_user("Bob")
    add_device(bob)
    push_test_create(user=bob, title="x", body="")
    out = io.StringIO()
    call_command("run_push_worker", "--once", stdout=out)
    assert "sent 1" in out.getvalue()
    assert [p.title for p in outbox] == ["x"]
