from django.contrib import admin, messages
from django.utils.translation import ngettext

from chat.admin import IndexedSearchMixin, UncountedListMixin
from notifications.models import Device, NotificationSettings, Push
from notifications.services import push_retry


@admin.register(Device)
class DeviceAdmin(UncountedListMixin, IndexedSearchMixin, admin.ModelAdmin):
    list_display = ["id", "user", "platform", "creation_time", "last_seen_time"]
    list_filter = ["platform"]
    search_user_fields = ("user",)
    search_exact_fields = ("token",)  # unique
    search_help_text = "A device id, a user's GUID for their devices, or a whole device token."
    ordering = ["-id"]
    raw_id_fields = ["user"]


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(UncountedListMixin, IndexedSearchMixin, admin.ModelAdmin):
    """Users' do-not-disturb (CONTRACT §9); a time in the past is simply over."""

    list_display = ["user", "do_not_disturb_until"]
    search_by_id = False
    search_user_fields = ("user",)  # the primary key
    search_help_text = "A user's GUID."
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(Push)
class PushAdmin(UncountedListMixin, IndexedSearchMixin, admin.ModelAdmin):
    """The outbox: every push with its state; failed ones can be queued again. Built for millions of
    rows: no COUNT(*), no date hierarchy (its Min/Max of the unindexed creation_time scans the table),
    searches by id or by user only (indexes), and the state filter on the head of push_due_idx."""

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
    search_user_fields = ("user",)  # the head of push_user_chat_idx
    search_help_text = "A push id, or a user's GUID for their pushes."
    list_select_related = ["user"]
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
