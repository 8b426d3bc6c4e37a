from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chat_project.health import healthz
from uploads.views import UploadFileView

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # The apps beside chat first: chat's own routes end with a catch-all for unknown /api/ paths.
    path("api/chat/uploadFile", UploadFileView.as_view(), name="upload-file"),
    path("api/notifications/", include("notifications.urls")),
    path("api/", include("chat.api.urls")),
    path("uploads/", include("uploads.urls")),
]
