from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models

from chat.models import ChatHeader, ChatMember, ChatMessage, Friendship, User
from chat.services import moderation, users


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    ordering = ["name"]
    list_display = ["id", "name", "is_active", "is_staff", "last_seen", "date_joined"]
    list_filter = ["is_active", "is_staff"]
    search_fields = ["id", "name"]
    readonly_fields = ["id", "date_joined", "last_seen", "last_login"]
    fieldsets = [
        (None, {"fields": ["id", "name", "avatar", "password"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Activity", {"fields": ["date_joined", "last_seen", "last_login"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["name", "password1", "password2"]})]
    actions = ["deactivate"]

    @admin.action(description="Deactivate selected users (tokens refused, sockets disconnected)")
    def deactivate(self, request, queryset):
        # Through the service, one by one: a queryset update() would send no post_save, and their open
        # sockets would stay connected until their next event.
        done = [
            users.user_deactivate(user_id=pk) for pk in queryset.filter(is_active=True).values_list("pk", flat=True)
        ]
        self.message_user(request, f"{len(done)} user(s) deactivated and disconnected.", messages.SUCCESS)


class ChatMemberInline(admin.TabularInline):
    model = ChatMember
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["last_read_message_id"]
    exclude = ["last_read_message"]


@admin.register(ChatHeader)
class ChatHeaderAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["id", "chat_type", "name", "creation_time", "last_activity_time"]
    list_filter = ["chat_type"]
    search_fields = ["name", "memberships__user__name"]
    raw_id_fields = ["created_by", "last_message"]
    readonly_fields = ["direct_key"]
    inlines = [ChatMemberInline]


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "chat", "sender", "message_type", "short_text", "creation_time", "is_edited", "is_deleted"]
    list_filter = ["message_type", "is_deleted", "is_edited"]
    search_fields = ["message", "caption", "sender__name"]
    raw_id_fields = ["chat", "sender"]
    list_select_related = ["chat", "sender"]
    date_hierarchy = "creation_time"

    actions = ["soft_delete", "restore"]

    @admin.display(description="message")
    def short_text(self, obj: ChatMessage) -> str:
        return obj.message[:80]

    @admin.action(description="Soft-delete selected messages (hidden from users, kept here)")
    def soft_delete(self, request, queryset):
        done = moderation.messages_moderate_delete(message_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{len(done)} message(s) deleted for everyone.", messages.SUCCESS)

    @admin.action(description="Restore selected soft-deleted messages")
    def restore(self, request, queryset):
        done = moderation.messages_moderate_restore(message_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{len(done)} message(s) restored.", messages.SUCCESS)


@admin.register(Friendship)
class FriendshipAdmin(admin.ModelAdmin):
    list_display = ["id", "requester", "addressee", "status", "blocked_by", "last_modification_time"]
    list_filter = ["status"]
    search_fields = ["requester__name", "addressee__name"]
    raw_id_fields = ["requester", "addressee", "blocked_by"]
    list_select_related = ["requester", "addressee"]
