"""The ASGI app: python-socketio's AsyncServer at /socket.io/, Django for everything else; every WebSocket
connection behind a guard that can abort it (a client that stopped reading: chat/sockets/backpressure.py)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

from django.core.asgi import get_asgi_application

django_app = get_asgi_application()

import socketio  # noqa: E402

from chat.sockets.backpressure import ConnectionGuard  # noqa: E402
from chat.sockets.server import sio  # noqa: E402
from chat_project import lifecycle  # noqa: E402
from uploads.guard import UploadGuard  # noqa: E402

application = ConnectionGuard(
    socketio.ASGIApp(
        sio,
        UploadGuard(django_app),
        socketio_path="socket.io",
        on_startup=lifecycle.startup,
        on_shutdown=lifecycle.shutdown,
    ),
    sio.eio,
)
