"""`/demo/`: a small web client to try the server in a browser, as one of `seed_demo`'s users.

On in debug mode, otherwise only with CHAT_DEMO_ENABLED, never with CHAT_ENV=production (settings
refuse it): `POST /demo/token` hands anyone a token for a demo user, which is what makes the page
work without an identity system, and what no production server may do. Switched off, every /demo/
URL is a 404. The page talks to the server as any client does: Socket.IO events with the token, and
`POST /api/chat/uploadFile` for images.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from chat.services.demo import DEMO_USERS, demo_seed
from chat.tokens import issue_token

TOKEN_TTL = 3600  # seconds: a demo session, not a login


def _enabled() -> None:
    if not settings.CHAT_DEMO_ENABLED:
        raise Http404("The demo is off (CHAT_DEMO_ENABLED).")


@require_safe
def demo_page(request):
    _enabled()
    return render(
        request,
        "demo/index.html",
        {"users": list(DEMO_USERS), "socketio_installed": settings.CHAT_DEMO_SOCKETIO_JS.is_file()},
    )


@require_POST
def demo_token(request):
    """`{"name": "Alice"}` -> `{userId, name, accessToken}`, seeding the demo first (idempotent)."""
    _enabled()
    try:
        name = json.loads(request.body or b"{}").get("name")
    except (ValueError, AttributeError):
        name = None
    if name not in DEMO_USERS:
        return JsonResponse({"error": f"name must be one of {', '.join(DEMO_USERS)}", "code": "invalid"}, status=400)
    demo_seed()
    user_id = DEMO_USERS[name]
    return JsonResponse(
        {"userId": str(user_id), "name": name, "accessToken": issue_token(user_id, name=name, ttl=TOKEN_TTL)}
    )


@require_safe
def socketio_client(request):
    """The official browser client, from the npm package installed by `make demo-assets`."""
    _enabled()
    path = settings.CHAT_DEMO_SOCKETIO_JS
    if not path.is_file():
        raise Http404("socket.io-client is not installed: run `make demo-assets` (needs npm).")
    response = FileResponse(path.open("rb"), content_type="text/javascript")
    response["Cache-Control"] = "public, max-age=3600"
    return response
