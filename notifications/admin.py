from django.contrib import admin, messages
from django.utils.translation import ngettext

from notifications.models import Device, NotificationSettings, Push
from notifications.services import push_retry


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "platform", "creation_time", "last_seen_time"]
    list_filter = ["platform"]
    search_fields = ["user__name", "token"]
    raw_id_fields = ["user"]


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    """Users' do-not-disturb (CONTRACT §9); a time in the past is simply over."""

    list_display = ["user", "do_not_disturb_until"]
    search_fields = ["user__name"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(Push)
class PushAdmin(admin.ModelAdmin):
    """The outbox: every push with its state; failed ones can be queued again."""

    list_display = [
        "id",
        "kind",
        "user",
        "platform",
        "state",
        "attempts",
        "title",
        "creation_time",
        "next_attempt_at",
        "sent_time",
        "short_error",
    ]
    list_filter = ["state", "kind", "platform"]
    search_fields = ["user__name", "token", "title", "body", "last_error"]
    list_select_related = ["user"]
    date_hierarchy = "creation_time"
    ordering = ["-id"]
    actions = ["retry"]
    readonly_fields = [f.name for f in Push._meta.fields if f.name not in {"id"}]

    def has_add_permission(self, request):
        return False  # pushes are written by the services, never by hand

    @admin.display(description="last error")
    def short_error(self, obj: Push) -> str:
        return obj.last_error if len(obj.last_error) <= 80 else obj.last_error[:79] + "…"

    @admin.action(description="Retry selected failed pushes now")
    def retry(self, request, queryset):
        count = push_retry(push_ids=queryset.values_list("id", flat=True))
        skipped = queryset.count() - count
        self.message_user(
            request,
            ngettext("%d push queued again.", "%d pushes queued again.", count) % count,
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request, f"{skipped} skipped: only failed or waiting pushes can be retried.", messages.WARNING
            )
