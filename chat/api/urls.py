"""REST routes under /api/ (CONTRACT §6)."""

from django.urls import path

from uploads.views import UploadFileView

urlpatterns = [
    path("chat/uploadFile", UploadFileView.as_view(), name="upload-file"),
]
