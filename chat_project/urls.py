from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chat_project import dashboard, demo, reference
from chat_project.health import healthz
from uploads.views import UploadFileView

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/dashboard/", admin.site.admin_view(dashboard.dashboard), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("docs/", reference.socket_docs, name="socket-docs"),
    path("api/asyncapi.json", reference.asyncapi_json, name="asyncapi"),
    path("demo/", demo.demo_page, name="demo"),
    path("demo/token", demo.demo_token, name="demo-token"),
    path("demo/socket.io.min.js", demo.socketio_client, name="demo-socketio"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # The apps beside chat first: chat's own routes end with a catch-all for unknown /api/ paths.
    path("api/chat/uploadFile", UploadFileView.as_view(), name="upload-file"),
    path("api/notifications/", include("notifications.urls")),
    path("api/", include("chat.api.urls")),
    path("uploads/", include("uploads.urls")),
]
