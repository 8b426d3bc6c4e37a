"""The moderators' admin: what a new moderator meets (the login, createsuperuser), the message list's
moderation and searches, and the dashboard with and without data."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chat.models import ChatMessage, Friendship, User
from chat.services.demo import demo_seed
from notifications.models import Push, PushKind, PushState

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator_client():
    client = Client()
    client.force_login(User.objects.create_superuser(name="Mod", password="a-long-test-password"))
    return client


@pytest.fixture
def demo():
    return demo_seed()


def test_the_login_form_asks_for_the_user_id_as_a_guid():
    html = Client().get(reverse("admin:login")).content.decode()
    assert "User id (GUID)" in html
    assert ">Id:<" not in html


def test_createsuperuser_explains_the_guid_and_offers_a_fresh_one():
    prompts = []

    def fake_input(message):
        prompts.append(message)
        return {0: "", 1: "Mod"}.get(len(prompts) - 1, "")

    with (
        mock.patch("builtins.input", fake_input),
        mock.patch("getpass.getpass", return_value="a-long-test-password"),
        mock.patch("sys.stdin.isatty", return_value=True, create=True),
    ):
        call_command("createsuperuser", interactive=True, stdin=mock.Mock(isatty=lambda: True))
    assert "GUID" in prompts[0] and "userId" in prompts[0]
    offered = re.search(r"\(([0-9a-f-]{36})\)", prompts[0])[1]
    user = User.objects.get(pk=uuid.UUID(offered))  # a blank answer took the offered GUID
    assert user.is_superuser and user.name == "Mod"


def test_pushes_are_called_pushes(moderator_client):
    html = moderator_client.get(reverse("admin:index")).content.decode()
    assert "Pushes" in html and "Pushs" not in html


def test_messages_offer_soft_delete_and_restore_but_no_hard_delete(moderator_client, demo):
    html = moderator_client.get(reverse("admin:chat_chatmessage_changelist")).content.decode()
    actions = set(re.findall(r'<option value="(\w+)"', html))
    assert {"soft_delete", "restore"} <= actions
    assert "delete_selected" not in actions


def test_a_hard_delete_posted_anyway_deletes_nothing(moderator_client, demo):
    ids = list(ChatMessage.objects.values_list("pk", flat=True))
    moderator_client.post(
        reverse("admin:chat_chatmessage_changelist"),
        {"action": "delete_selected", "_selected_action": [str(i) for i in ids], "post": "yes"},
    )
    assert ChatMessage.objects.count() == len(ids)


def changelist_ids(client, **params) -> list[int]:
    response = client.get(reverse("admin:chat_chatmessage_changelist"), params)
    assert response.status_code == 200
    return [int(i) for i in re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())]


def test_message_searches_by_id_chat_sender_and_text_within_a_chat(moderator_client, demo):
    alice = demo.users["Alice"]
    direct = list(ChatMessage.objects.filter(chat_id=demo.direct_chat_id).order_by("-id").values_list("id", flat=True))
    assert changelist_ids(moderator_client, q=f"chat:{demo.direct_chat_id}") == direct
    assert changelist_ids(moderator_client, q=str(direct[0])) == [direct[0]]
    assert changelist_ids(moderator_client, q=str(alice.pk)) == list(
        ChatMessage.objects.filter(sender=alice).order_by("-id").values_list("id", flat=True)
    )
    hello = ChatMessage.objects.get(chat_id=demo.direct_chat_id, message__startswith="Hello")
    assert changelist_ids(moderator_client, q=f"chat:{demo.direct_chat_id} how are") == [hello.pk]
    # Free text across every chat would read every message: refused with a hint, nothing listed.
    response = moderator_client.get(reverse("admin:chat_chatmessage_changelist"), {"q": "Hello"}, follow=True)
    assert "within one chat" in response.content.decode()
    assert changelist_ids(moderator_client, q="Hello") == []


def test_the_deleted_filter(moderator_client, demo):
    message = ChatMessage.objects.filter(chat_id=demo.direct_chat_id).first()
    moderator_client.post(
        reverse("admin:chat_chatmessage_changelist"), {"action": "soft_delete", "_selected_action": [message.pk]}
    )
    assert changelist_ids(moderator_client, deleted="yes") == [message.pk]
    assert message.pk not in changelist_ids(moderator_client, deleted="no")


def test_pages_without_a_count(moderator_client, demo, settings):
    chat = ChatMessage.objects.get(message="Hi Bob!").chat
    sender = demo.users["Alice"]
    ChatMessage.objects.bulk_create([ChatMessage(chat=chat, sender=sender, message=f"m{i}") for i in range(150)])
    newest = list(ChatMessage.objects.order_by("-id").values_list("id", flat=True))
    first = moderator_client.get(reverse("admin:chat_chatmessage_changelist")).content.decode()
    assert "more messages follow" in first and "?p=2" in first
    assert changelist_ids(moderator_client) == newest[:100]
    last = moderator_client.get(reverse("admin:chat_chatmessage_changelist"), {"p": 2}).content.decode()
    assert "the last" in last
    assert changelist_ids(moderator_client, p=2) == newest[100:]
    # A page past the end is the admin's usual "bad parameters" redirect, not an error.
    assert moderator_client.get(reverse("admin:chat_chatmessage_changelist"), {"p": 9}).status_code == 302


# --- the dashboard ------------------------------------------------------------------------------------


def dashboard(client) -> str:
    cache.clear()
    response = client.get(reverse("admin-dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def figure(html: str, name: str) -> int:
    return int(re.search(rf'id="{name}"><b>(\d+)</b>', html)[1])


def bars(html: str) -> dict[str, int]:
    return {day: int(n) for day, n in re.findall(r'data-day="([\d-]+)" data-count="(\d+)"', html)}


def test_the_dashboard_without_data(moderator_client):
    html = dashboard(moderator_client)
    assert "<svg" in html and "0 messages in 30 days" in html
    per_day = bars(html)
    assert len(per_day) == 30 and set(per_day.values()) == {0}
    assert [figure(html, f) for f in ("online", "pushes-sent", "pushes-failed", "pushes-waiting")] == [0, 0, 0, 0]


def test_the_dashboard_with_data(moderator_client, demo):
    alice, bob = demo.users["Alice"], demo.users["Bob"]
    today = timezone.now()
    old = ChatMessage.objects.create(chat_id=demo.direct_chat_id, sender=bob, message="three days ago")
    ChatMessage.objects.filter(pk=old.pk).update(creation_time=today - timedelta(days=3))
    ancient = ChatMessage.objects.create(chat_id=demo.direct_chat_id, sender=bob, message="long ago")
    ChatMessage.objects.filter(pk=ancient.pk).update(creation_time=today - timedelta(days=45))
    for state, n in [(PushState.SENT, 3), (PushState.FAILED, 2), (PushState.PENDING, 1), (PushState.SENDING, 1)]:
        for _ in range(n):
            Push.objects.create(user=alice, token="t", platform="android", kind=PushKind.values[0], state=state)

    with mock.patch("chat_project.dashboard.users_online", return_value=2):
        html = dashboard(moderator_client)

    per_day = bars(html)
    assert per_day[today.date().isoformat()] == ChatMessage.objects.filter(creation_time__date=today.date()).count()
    assert per_day[(today - timedelta(days=3)).date().isoformat()] == 1
    assert sum(per_day.values()) == ChatMessage.objects.count() - 1  # not the one 45 days old
    # The busiest day's bar is the tallest, an empty day's has no height.
    heights = {d: float(h) for h, d in re.findall(r'height="([\d.]+)" data-day="([\d-]+)"', html)}
    assert heights[today.date().isoformat()] == max(heights.values()) > 0
    assert heights[(today - timedelta(days=10)).date().isoformat()] == 0
    assert figure(html, "pushes-sent") == 3
    assert figure(html, "pushes-failed") == 2
    assert figure(html, "pushes-waiting") == 2
    assert figure(html, "online") == 2


async def test_users_online_counts_connected_users(clients, make_user):
    """The dashboard's figure is the state layer's presence: a verified socket counts, then does not."""
    from asgiref.sync import sync_to_async

    from chat_project.dashboard import users_online

    alice = make_user("Alice")
    client = await clients(alice)
    await client.barrier()
    assert await sync_to_async(users_online)() == 1
    await client.disconnect()
    for _ in range(100):
        if await sync_to_async(users_online)() == 0:
            break
        await asyncio.sleep(0.05)
    assert await sync_to_async(users_online)() == 0


def test_the_dashboard_is_for_moderators_only():
    response = Client().get(reverse("admin-dashboard"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_no_admin_form_offers_a_select_of_every_user_chat_or_message():
    """A foreign key to a big table is a raw id (or autocomplete, or read-only), never a <select> of all rows."""
    from django.contrib import admin

    big = {User, ChatMessage, ChatMessage._meta.get_field("chat").related_model}
    offenders = []
    for model, model_admin in admin.site._registry.items():
        for owner, admin_options in [(model, model_admin)] + [(i.model, i) for i in model_admin.inlines]:
            handled = set(admin_options.raw_id_fields) | set(admin_options.autocomplete_fields)
            handled |= set(admin_options.exclude or ()) | set(admin_options.readonly_fields)
            if owner is not model:  # an inline: its key to the parent is not a form field
                handled |= {f.name for f in owner._meta.concrete_fields if f.related_model is model}
            for field in owner._meta.get_fields():
                if field.is_relation and field.concrete and field.related_model in big and field.editable:
                    if field.name not in handled:
                        offenders.append(f"{owner.__name__}.{field.name}")
    assert not offenders


def test_a_chat_page_shows_its_members_read_marks_as_ids(moderator_client, demo):
    response = moderator_client.get(reverse("admin:chat_chatheader_change", args=[demo.direct_chat_id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Last read message id" in html and 'name="memberships-0-last_read_message"' not in html


@pytest.mark.redis
def test_users_online_counts_every_worker_through_redis(redis_url, monkeypatch):
    """Two workers' sockets in one Redis: the dashboard, on either, counts the users of both."""
    from types import SimpleNamespace

    from asgiref.sync import async_to_sync

    from chat.state.presence import RedisPresence
    from chat_project import dashboard as dash

    one, two = (RedisPresence(redis_url, prefix="test-dashboard", host_id=h) for h in ("one", "two"))
    async_to_sync(one.add_socket)("u1", "s1", "web")
    async_to_sync(one.add_socket)("u1", "s2", "mobile")  # one user, two sockets: counted once
    async_to_sync(two.add_socket)("u2", "s3", "web")
    monkeypatch.setattr(
        dash, "get_state", lambda: SimpleNamespace(presence=RedisPresence(redis_url, prefix="test-dashboard"))
    )
    assert dash.users_online() == 2
    async_to_sync(two.remove_socket)("u2", "s3")
    assert dash.users_online() == 1


@pytest.mark.parametrize("model", ["user", "chatheader", "chatmessage"])
def test_users_chats_and_messages_cannot_be_hard_deleted_in_the_admin(moderator_client, demo, model):
    """Users are deactivated, messages soft-deleted, chats kept (CONTRACT §2, §8, §10): no delete button,
    no "Delete selected", and the delete page itself is refused, even for a superuser."""
    obj = {
        "user": demo.users["Alice"],
        "chatheader": ChatMessage.objects.get(message="Hi Bob!").chat,
        "chatmessage": ChatMessage.objects.get(message="Hi Bob!"),
    }[model]
    changelist = moderator_client.get(reverse(f"admin:chat_{model}_changelist")).content.decode()
    assert "delete_selected" not in set(re.findall(r'<option value="(\w+)"', changelist))
    change = moderator_client.get(reverse(f"admin:chat_{model}_change", args=[obj.pk]))
    assert change.status_code == 200
    assert reverse(f"admin:chat_{model}_delete", args=[obj.pk]) not in change.content.decode()
    assert moderator_client.get(reverse(f"admin:chat_{model}_delete", args=[obj.pk])).status_code == 403
    assert (
        moderator_client.post(reverse(f"admin:chat_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    )
    assert type(obj).objects.filter(pk=obj.pk).exists()


# --- the other lists at scale: no COUNT(*), searches by index only ------------------------------------


def _list_page(client, url_name: str, **params):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse(url_name), params)
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in ctx.captured_queries]


def test_users_chats_friendships_devices_and_pushes_list_without_a_count(moderator_client, demo):
    from notifications.models import Device, NotificationSettings

    alice = demo.users["Alice"]
    device = Device.objects.create(user=alice, token="alice-device-token", platform="android")
    NotificationSettings.objects.create(user=alice)
    pushes = [Push.objects.create(user=alice, token=device.token, platform="android") for _ in range(3)]
    Push.objects.create(user=demo.users["Bob"], token="bob-token", platform="android")
    chat_ids = sorted(demo.users["Alice"].memberships.values_list("chat_id", flat=True), reverse=True)
    friendships = sorted(
        Friendship.objects.filter(Q(requester=alice) | Q(addressee=alice)).values_list("pk", flat=True), reverse=True
    )
    assert friendships
    cases = [
        ("admin:chat_user_changelist", {}, None),
        ("admin:chat_user_changelist", {"q": str(alice.pk)}, [str(alice.pk)]),
        ("admin:chat_user_changelist", {"is_active__exact": "1"}, None),
        ("admin:chat_chatheader_changelist", {}, None),
        ("admin:chat_chatheader_changelist", {"q": str(alice.pk)}, [str(i) for i in chat_ids]),
        ("admin:chat_chatheader_changelist", {"q": str(chat_ids[0])}, [str(chat_ids[0])]),
        ("admin:chat_friendship_changelist", {"q": str(alice.pk)}, [str(i) for i in friendships]),
        ("admin:notifications_device_changelist", {"q": device.token}, [str(device.pk)]),
        ("admin:notifications_device_changelist", {"q": str(alice.pk)}, [str(device.pk)]),
        ("admin:notifications_notificationsettings_changelist", {"q": str(alice.pk)}, [str(alice.pk)]),
        ("admin:notifications_push_changelist", {}, None),
        ("admin:notifications_push_changelist", {"q": str(alice.pk)}, [str(p.pk) for p in reversed(pushes)]),
        ("admin:notifications_push_changelist", {"q": str(pushes[1].pk)}, [str(pushes[1].pk)]),
        ("admin:notifications_push_changelist", {"state__exact": "pending"}, None),
    ]
    for url_name, params, expected in cases:
        html, queries = _list_page(moderator_client, url_name, **params)
        counts = [q for q in queries if "COUNT(" in q.upper()]
        assert not counts, (url_name, params, counts)
        assert len(queries) <= 6, (url_name, params, queries)  # session, user, the page (+ filters' choices)
        assert "not counted" in html, (url_name, params)
        if expected is not None:
            listed = list(dict.fromkeys(re.findall(r'<a href="/admin/\w+/\w+/([\w-]+)/change/', html)))
            assert listed == expected, (url_name, params)


def test_the_pushes_list_has_no_date_hierarchy(moderator_client):
    html, queries = _list_page(moderator_client, "admin:notifications_push_changelist")
    assert "creation_time__year" not in html
    assert not [q for q in queries if "MIN(" in q.upper() or "MAX(" in q.upper()]


@pytest.mark.parametrize(
    ("url_name", "term"),
    [
        ("admin:chat_user_changelist", "Alice"),
        ("admin:chat_chatheader_changelist", "Alice"),
        ("admin:chat_friendship_changelist", "Bob"),
        ("admin:notifications_push_changelist", "some error text"),
    ],
)
def test_a_search_no_index_answers_lists_nothing_and_says_why(moderator_client, demo, url_name, term):
    response = moderator_client.get(reverse(url_name), {"q": term})
    html = response.content.decode()
    assert "Not a search this list can answer from an index" in html
    assert not re.findall(r'<a href="/admin/\w+/\w+/([\w-]+)/change/', html)
