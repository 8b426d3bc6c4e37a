"""REST routes of the notifications app, under /api/notifications/ (CONTRACT §6)."""

from django.urls import path

from notifications import api

urlpatterns = [
    path("devices", api.DeviceListView.as_view(), name="devices"),
    path("devices/<str:token>", api.DeviceDetailView.as_view(), name="device"),
    path("settings", api.NotificationSettingsView.as_view(), name="settings"),
]
