"""The OpenAPI schema documents every REST endpoint, and schemathesis finds no 500 in any of them."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from chat.tokens import issue_token

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("/api/chat/uploadFile", "post"),
    ("/api/chat/getChatHeaderAsync", "get"),
    ("/api/friendships", "get"),
    ("/api/friendships", "post"),
    ("/api/friendships/{user_id}/accept", "post"),
    ("/api/friendships/{user_id}/reject", "post"),
    ("/api/friendships/{user_id}/block", "post"),
    ("/api/friendships/{user_id}", "delete"),
    ("/api/chat/groups", "post"),
    ("/api/chat/groups/{chat_id}/members", "post"),
    ("/api/chat/groups/{chat_id}/members/{user_id}", "delete"),
    ("/api/notifications/devices", "post"),
    ("/api/notifications/devices/{token}", "delete"),
}

# No 500, and every answer has a documented status and the documented shape.
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def test_schema_documents_every_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    documented = {(path, method) for path, ops in schema["paths"].items() for method in ops}
    assert ENDPOINTS <= documented
    for path, method in ENDPOINTS:
        operation = schema["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert {"401", "403", "404", "400"} <= set(operation["responses"]), path
        success = next(code for code in operation["responses"] if code.startswith("2"))
        content = operation["responses"][success]["content"]["application/json"]["schema"]
        assert "$ref" in content, path
    upload = schema["paths"]["/api/chat/uploadFile"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["file"] == {"type": "string", "format": "binary", "description": "The file to upload"}
    assert form["required"] == ["file", "messageType"]
    assert "413" in upload["responses"]
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_swagger_ui_is_served(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200 and b"swagger" in response.content.lower()


@pytest.fixture
def keep_test_connection():
    """The WSGI app closes the database connection after each request, as in production; the test's
    transaction lives on that connection, so keep it open (Django's test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_schemathesis_finds_no_server_error(media_root, keep_test_connection, mode):
    """Every documented operation, with valid and with schema-violating input, under a valid token."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    headers = {"Authorization": f"Bearer {issue_token(uuid.uuid4(), name='Fuzzer')}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= len(ENDPOINTS)
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_server_error(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        no_server_error()


@pytest.mark.parametrize("path", ["/api/nope", "/api/friendships/", "/api/chat/groups/1/members/", "/api/"])
def test_unknown_api_paths_answer_in_the_envelope(client, path):
    response = client.post(path)
    assert response.status_code == 404
    assert response.json() == {"success": False, "data": None, "message": "No such endpoint.", "code": "not_found"}


def test_wrong_method_answers_in_the_envelope(api, make_user):
    response = api(make_user("A")).put("/api/friendships")
    assert response.status_code == 405 and response.json()["code"] == "invalid"


def test_swagger_ui_is_served_without_a_cdn(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
