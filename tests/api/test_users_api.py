"""CONTRACT §10: the identity system's users API, for service tokens only."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from rest_framework.test import APIClient
from schemathesis import GenerationMode

from chat.errors import Unauthorized
from chat.models import User
from chat.tokens import authenticate_token, issue_service_token, issue_token
from tests.api.helpers import error, ok
from tests.api.test_schema import CHECKS, keep_test_connection  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_service_token()}")
    return client


def put(client, user_id, body):
    return client.put(f"/api/users/{user_id}", body, format="json")


def bulk(client, users):
    return client.post("/api/users/bulk", {"users": users}, format="json")


def test_put_creates_then_updates(service):
    uid = uuid.uuid4()
    created = ok(put(service, uid, {"name": "Bob", "avatar": "https://cdn.example/b.png"}), 201)
    assert created == {"userId": str(uid), "name": "Bob", "avatar": "https://cdn.example/b.png", "isActive": True}
    updated = ok(put(service, uid, {"name": "Robert", "avatar": None}), 200)
    assert updated == {"userId": str(uid), "name": "Robert", "avatar": None, "isActive": True}
    user = User.objects.get(pk=uid)
    assert (user.name, user.avatar, user.has_usable_password()) == ("Robert", "", False)
    # The user's own token then works, and its claims refresh what the service stored.
    assert authenticate_token(issue_token(uid)).name == "Robert"


def test_put_fills_in_a_placeholder_and_can_deactivate_and_reactivate(service, api, make_user):
    alice = make_user("Alice")
    bob_id = uuid.uuid4()
    ok(api(alice).post("/api/friendships", {"userId": str(bob_id)}, format="json"), 201)  # a placeholder
    assert ok(put(service, bob_id, {"name": "Bob", "avatar": None}), 200)["name"] == "Bob"
    off = ok(put(service, bob_id, {"name": "Bob", "avatar": None, "isActive": False}))
    assert off["isActive"] is False
    with pytest.raises(Unauthorized, match="disabled"):
        authenticate_token(issue_token(bob_id))
    assert ok(put(service, bob_id, {"name": "Bob", "avatar": None, "isActive": True}))["isActive"] is True
    assert authenticate_token(issue_token(bob_id)).pk == bob_id


@pytest.mark.parametrize(
    "avatar", ["javascript:alert(3)", "data:image/png;base64,AAAA", "/relative.png", "https://", "http://a b/c", ""]
)
def test_an_avatar_that_is_no_http_url_is_stored_as_none(service, avatar):
    uid = uuid.uuid4()
    assert ok(put(service, uid, {"name": "X", "avatar": avatar}), 201)["avatar"] is None
    assert User.objects.get(pk=uid).avatar == ""
    assert ok(bulk(service, [{"userId": str(uid), "name": "X", "avatar": avatar}]))["updated"] == 1
    assert User.objects.get(pk=uid).avatar == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5, "avatar": None}, "name:"),
        ({"name": "N" * 201, "avatar": None}, "name:"),
        ({"avatar": None}, "name:"),
        ({"name": "A"}, "avatar:"),
        ({"name": "A", "avatar": None, "isActive": "no"}, "isActive:"),
        ({"name": "A\x00", "avatar": None}, "name:"),
    ],
)
def test_put_refuses_bad_input_and_changes_nothing(service, body, field):
    uid = uuid.uuid4()
    assert error(put(service, uid, body), 400, "invalid").startswith(field)
    assert not User.objects.filter(pk=uid).exists()


def test_put_needs_a_guid(service):
    assert error(put(service, "not-a-guid", {"name": "A", "avatar": None}), 400, "invalid").startswith("userId:")


def test_bulk_creates_and_updates(service, make_user):
    alice = make_user("Alice")
    new = uuid.uuid4()
    data = ok(
        bulk(
            service,
            [
                {"userId": str(alice.pk), "name": "Alice B", "avatar": "https://x.example/a.png"},
                {"userId": str(new), "name": "New", "avatar": "javascript:alert(3)"},
            ],
        ),
        201,
    )
    assert data == {"created": 1, "updated": 1}
    assert User.objects.get(pk=alice.pk).name == "Alice B"
    assert (User.objects.get(pk=new).name, User.objects.get(pk=new).avatar) == ("New", "")
    # Nothing new: 200.
    assert ok(bulk(service, [{"userId": str(new), "name": "New", "avatar": None}]), 200) == {"created": 0, "updated": 1}


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ([{"userId": str(uuid.uuid4()), "name": "U", "avatar": None} for _ in range(101)], "users:"),
        ([{"userId": str(uuid.uuid4()), "name": "ok", "avatar": None}, {"userId": "x", "name": "n", "avatar": None}],
         "users:"),
        ([{"userId": str(uuid.uuid4()), "name": "ok", "avatar": None}, {"userId": str(uuid.uuid4()), "name": 3}],
         "users:"),
        ([{"userId": "6a1f4d9e-0000-4000-8000-000000000001", "name": "a", "avatar": None}] * 2, "users[1].userId:"),
    ],
    ids=["over-100", "bad-guid", "bad-item", "twice"],
)  # fmt: skip
def test_bulk_is_all_or_nothing(service, users, message):
    assert error(bulk(service, users), 400, "invalid").startswith(message)
    assert User.objects.count() == 0


def test_bulk_needs_a_list(service):
    assert error(service.post("/api/users/bulk", {"users": "x"}, format="json"), 400, "invalid").startswith("users:")
    assert error(service.post("/api/users/bulk", {}, format="json"), 400, "invalid").startswith("users:")


def test_delete_deactivates_and_keeps_the_history(service, api, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    ok(api(alice).post("/api/friendships", {"userId": str(bob.pk)}, format="json"), 201)
    data = ok(service.delete(f"/api/users/{bob.pk}"))
    assert data == {"userId": str(bob.pk), "name": "Bob", "avatar": None, "isActive": False}
    error(api(bob).get("/api/friendships"), 401, "unauthorized")
    assert ok(service.delete(f"/api/users/{bob.pk}")) == data  # twice: the same answer
    assert User.objects.filter(pk=bob.pk).exists() and len(ok(api(alice).get("/api/friendships"))) == 1
    error(service.delete(f"/api/users/{uuid.uuid4()}"), 404, "not_found")
    error(service.delete("/api/users/not-a-guid"), 404, "not_found")


def test_user_tokens_are_forbidden_and_no_token_is_unauthorized(api, make_user):
    alice = make_user("Alice")
    uid = uuid.uuid4()
    for client, status, code in ((api(alice), 403, "forbidden"), (api(), 401, "unauthorized")):
        error(put(client, uid, {"name": "A", "avatar": None}), status, code)
        error(bulk(client, [{"userId": str(uid), "name": "A", "avatar": None}]), status, code)
        error(client.delete(f"/api/users/{alice.pk}"), status, code)
    assert User.objects.filter(pk=alice.pk, is_active=True).exists() and not User.objects.filter(pk=uid).exists()


def test_a_service_token_is_no_user(service):
    message = error(service.get("/api/friendships"), 401, "unauthorized")
    assert "service token" in message
    error(service.post("/api/chat/groups", {"name": "T"}, format="json"), 401, "unauthorized")
    assert User.objects.count() == 0


def hs(claims: dict) -> str:
    return jwt.encode(claims, django_settings.CHAT_JWT_SECRET, algorithm="HS256")


def test_a_service_token_must_name_no_user_and_must_expire(make_user):
    alice = make_user("Alice")
    soon = int(time.time()) + 600
    for token, reason in (
        (hs({"scope": "chat:service", "sub": str(alice.pk), "exp": soon}), "must not name a user"),
        (hs({"scope": "chat:service"}), "not valid"),  # no exp
        (hs({"scope": "chat:service", "exp": 10**20}), "lives too long"),
    ):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert reason in error(put(client, uuid.uuid4(), {"name": "A", "avatar": None}), 401, "unauthorized")
    # Scope as OAuth writes it (space-separated) or as a list.
    for scope in ("openid chat:service", ["chat:service"]):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {hs({'scope': scope, 'exp': soon})}")
        ok(put(client, uuid.uuid4(), {"name": "A", "avatar": None}), 201)


def test_schema_documents_the_users_api(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path, method in (
        ("/api/users/{user_id}", "put"),
        ("/api/users/{user_id}", "delete"),
        ("/api/users/bulk", "post"),
    ):
        operation = schema["paths"][path][method]
        assert operation["security"] == [{"serviceAuth": []}], path
        assert {"400", "401", "403", "404"} <= set(operation["responses"]), path
    assert schema["components"]["securitySchemes"]["serviceAuth"]["scheme"] == "bearer"


@pytest.mark.usefixtures("keep_test_connection")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_schemathesis_with_a_service_token(mode):
    """The users operations under a service token: no 500, documented statuses and shapes."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    headers = {"Authorization": f"Bearer {issue_service_token()}"}
    operations = [result.ok() for result in schema.get_all_operations() if result.ok().path.startswith("/api/users")]
    assert len(operations) == 3
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_server_error(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        no_server_error()
