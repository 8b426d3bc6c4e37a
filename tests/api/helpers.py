"""Assertions on the REST envelope (CONTRACT §6)."""

from __future__ import annotations


def ok(response, status=200):
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is True and body["message"] is None, body
    return body["data"]


def error(response, status, code):
    body = response.json()
    assert response.status_code == status, body
    assert body == {"success": False, "data": None, "message": body["message"], "code": code}, body
    assert body["message"]
    return body["message"]
