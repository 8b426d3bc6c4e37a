"""Push devices over REST (CONTRACT §6): a token belongs to one user at a time."""

from __future__ import annotations

import pytest

from notifications.models import Device
from tests.api.helpers import error, ok

pytestmark = pytest.mark.django_db
URL = "/api/notifications/devices"
TOKEN = "fcm:APA91bH-example_token-0123456789"


@pytest.fixture
def alice(make_user):
    return make_user("Alice")


@pytest.fixture
def bob(make_user):
    return make_user("Bob")


def register(client, token=TOKEN, platform="android"):
    return client.post(URL, {"token": token, "platform": platform}, format="json")


def test_register_and_refresh(api, alice):
    data = ok(register(api(alice)), 201)
    assert data["token"] == TOKEN and data["platform"] == "android" and data["creationTime"].endswith("Z")
    assert ok(register(api(alice), platform="ios"), 200)["platform"] == "ios"
    device = Device.objects.get()
    assert (device.user, device.platform) == (alice, "ios")


def test_token_moves_to_the_last_user(api, alice, bob):
    ok(register(api(alice)), 201)
    ok(register(api(bob)), 200)
    assert Device.objects.get(token=TOKEN).user == bob
    # Alice no longer owns it.
    error(api(alice).delete(f"{URL}/{TOKEN}"), 403, "forbidden")


def test_delete_own_only(api, alice, bob):
    ok(register(api(alice)), 201)
    error(api(bob).delete(f"{URL}/{TOKEN}"), 403, "forbidden")
    error(api(bob).delete(f"{URL}/unknown-token"), 404, "not_found")
    assert ok(api(alice).delete(f"{URL}/{TOKEN}")) is None
    assert not Device.objects.exists()
    error(api(alice).delete(f"{URL}/{TOKEN}"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"token": TOKEN, "platform": "windows"}, "platform"),
        ({"token": TOKEN}, "platform"),
        ({"platform": "web"}, "token"),
        ({"token": "", "platform": "web"}, "token"),
        ({"token": 123, "platform": "web"}, "token"),
        ({"token": "x" * 600, "platform": "web"}, "token"),
    ],
)
def test_bad_fields_are_named(api, alice, body, field):
    assert error(api(alice).post(URL, body, format="json"), 400, "invalid").startswith(f"{field}:")


def test_no_token(api, alice):
    ok(register(api(alice)), 201)
    error(register(api()), 401, "unauthorized")
    error(api().delete(f"{URL}/{TOKEN}"), 401, "unauthorized")
    assert Device.objects.get().user == alice
