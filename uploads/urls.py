"""`/uploads/<name>`: the files `POST /api/chat/uploadFile` returned (CONTRACT §1 and §6)."""

from django.urls import path

from uploads.views import serve_upload

urlpatterns = [path("<path:name>", serve_upload, name="upload-serve")]
