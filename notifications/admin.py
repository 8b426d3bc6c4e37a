from django.contrib import admin

from notifications.models import Device


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "platform", "creation_time", "last_seen_time"]
    list_filter = ["platform"]
    search_fields = ["user__name", "token"]
    raw_id_fields = ["user"]
