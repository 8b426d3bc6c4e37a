import re
from functools import cached_property

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.views.main import PAGE_VAR
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Q

from chat.models import ChatHeader, ChatMember, ChatMessage, Friendship, User
from chat.services import moderation, users
from chat.validation import parse_user_id


class LoginForm(AdminAuthenticationForm):
    """The admin's login: users are keyed by GUID, so the field says so instead of "Id"."""

    username = forms.CharField(
        label="User id (GUID)",
        max_length=36,
        widget=forms.TextInput(attrs={"autofocus": True, "placeholder": "550e8400-e29b-41d4-a716-446655440000"}),
    )


admin.site.login_form = LoginForm
admin.site.site_header = "Chat moderation"
admin.site.site_title = "Chat moderation"


class NoCountPaginator(Paginator):
    """Pages without COUNT(*): a page is fetched with one row more, which says whether another follows.

    At a million messages a count is a scan of the whole table on every page. The change list learns
    "at least this many" instead (rows before this page plus the rows fetched), which is all its page
    links need; the page's rows are the ones fetched for that, so a page is one query.
    """

    uncounted = True  # templates/admin/uncounted_pagination.html: "more follow" instead of a total

    def __init__(self, object_list, per_page, *, page_number: int = 1, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.page_number = max(page_number, 1)
        self._rows: list | None = None

    def _fetch(self) -> list:
        if self._rows is None:
            offset = (self.page_number - 1) * self.per_page
            self._rows = list(self.object_list[offset : offset + self.per_page + 1])
        return self._rows

    @cached_property
    def count(self) -> int:
        return (self.page_number - 1) * self.per_page + len(self._fetch())

    def page(self, number):
        number = self.validate_number(number)
        if number != self.page_number:
            return super().page(number)
        return self._get_page(self._fetch()[: self.per_page], number, self)


def _page_number(request) -> int:
    try:
        return int(request.GET.get(PAGE_VAR, 1))
    except ValueError:
        return 1


class UncountedListMixin:
    """A change list for a table that grows to millions of rows: no COUNT(*) on any page (neither the
    paginator's nor the "N total" one), and no "show all"."""

    paginator = NoCountPaginator
    show_full_result_count = False
    list_max_show_all = 0

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return self.paginator(
            queryset,
            per_page,
            orphans=orphans,
            allow_empty_first_page=allow_empty_first_page,
            page_number=_page_number(request),
        )


class IndexedSearchMixin:
    """Searches that an index answers, never a LIKE over every row: a number is the primary key
    (`search_by_id`), a GUID a user's rows (`search_user_fields`, each an indexed key, OR-ed), anything
    else equality on `search_exact_fields` (unique or indexed columns); with none of those, the term is
    refused with a hint and nothing is listed."""

    search_fields = ["pk"]  # shows the search box; get_search_results decides what a term means
    search_by_id = True
    search_user_fields: tuple[str, ...] = ()
    search_exact_fields: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if self.search_by_id and term.lstrip("#").isdigit():
            return queryset.filter(pk=int(term.lstrip("#"))), False
        user_id = parse_user_id(term)
        if user_id is not None and self.search_user_fields:
            return queryset.filter(_any_of(self.search_user_fields, user_id)), False
        if self.search_exact_fields:
            return queryset.filter(_any_of(self.search_exact_fields, term)), False
        self.message_user(
            request, f"Not a search this list can answer from an index: {self.search_help_text}", messages.WARNING
        )
        return queryset.none(), False


def _any_of(fields, value) -> Q:
    condition = Q()
    for field in fields:
        condition |= Q(**{field: value})
    return condition


@admin.register(User)
class UserAdmin(UncountedListMixin, IndexedSearchMixin, DjangoUserAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    ordering = ["name"]
    list_display = ["id", "name", "is_active", "is_staff", "last_seen", "date_joined"]
    list_filter = ["is_active", "is_staff"]
    search_by_id = False
    search_user_fields = ("pk",)
    search_help_text = "A user's GUID (a name would be a scan of every user)."
    readonly_fields = ["id", "date_joined", "last_seen", "last_login"]
    fieldsets = [
        (None, {"fields": ["id", "name", "avatar", "password"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Activity", {"fields": ["date_joined", "last_seen", "last_login"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["name", "password1", "password2"]})]
    actions = ["deactivate"]

    def has_delete_permission(self, request, obj=None):
        # A user is deactivated, never deleted (CONTRACT §2, §10: the history stays): a delete would
        # CASCADE through their messages, memberships and reactions in every chat, and Django's
        # confirmation page loads every one of those rows first.
        return False

    @admin.action(description="Deactivate selected users (tokens refused, sockets disconnected)")
    def deactivate(self, request, queryset):
        # Through the service, one by one: a queryset update() would send no post_save, and their open
        # sockets would stay connected until their next event.
        done = [
            users.user_deactivate(user_id=pk) for pk in queryset.filter(is_active=True).values_list("pk", flat=True)
        ]
        self.message_user(request, f"{len(done)} user(s) deactivated and disconnected.", messages.SUCCESS)


# A member's read (and delivery) marks point at messages: shown as ids, never as a <select> of every message.
_MEMBER_MARKS = [f.name for f in ChatMember._meta.concrete_fields if f.is_relation and f.related_model is ChatMessage]


class ChatMemberInline(admin.TabularInline):
    model = ChatMember
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = [f"{name}_id" for name in _MEMBER_MARKS]
    exclude = _MEMBER_MARKS


@admin.register(ChatHeader)
class ChatHeaderAdmin(UncountedListMixin, IndexedSearchMixin, admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["id", "chat_type", "name", "creation_time", "last_activity_time"]
    list_filter = ["chat_type"]
    search_user_fields = ("memberships__user",)  # (user, chat) index; one membership per pair
    search_help_text = "A chat id, or a user's GUID for the chats they are a member of."
    ordering = ["-id"]
    raw_id_fields = ["created_by", "last_message"]
    readonly_fields = ["direct_key"]
    inlines = [ChatMemberInline]

    def has_delete_permission(self, request, obj=None):
        # The contract has no deletion of a chat (§8: chats with member inlines); a delete would CASCADE
        # through every message of it, and the confirmation page would load them all first.
        return False


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("no", "Not deleted")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(is_deleted=True)
        if self.value() == "no":
            return queryset.filter(is_deleted=False)
        return queryset


_CHAT_TERM = re.compile(r"^chat:\s*(\d+)$", re.IGNORECASE)


@admin.register(ChatMessage)
class ChatMessageAdmin(UncountedListMixin, admin.ModelAdmin):
    """Messages, built to stay fast at millions of rows: no COUNT(*) (`show_full_result_count`, the
    paginator), no date hierarchy (its Min/Max of creation_time scans every row), newest first by
    primary key, and searches that each use an index (tests/admin/test_admin_million.py)."""

    list_display = ["id", "chat", "sender", "message_type", "short_text", "creation_time", "is_edited", "is_deleted"]
    list_filter = [DeletedFilter]
    search_fields = ["message"]  # only searched within one chat: see get_search_results
    search_help_text = (
        "A message id; chat:<id> for a chat's messages; a user's GUID for what they sent; "
        "chat:<id> followed by words to search that chat's text."
    )
    # Every foreign key a raw id: a <select> would list every chat, user or message.
    raw_id_fields = [f.name for f in ChatMessage._meta.concrete_fields if f.is_relation]
    list_select_related = ["chat", "sender"]
    ordering = ["-id"]

    actions = ["soft_delete", "restore"]

    def has_delete_permission(self, request, obj=None):
        # A moderator hides messages (soft delete, restorable) and never erases them here: neither the
        # page's Delete button nor "Delete selected" (Django drops that action without this permission).
        # A hard delete would remove rows that clients and the change feed still refer to.
        return False

    def get_search_results(self, request, queryset, search_term):
        """Each kind of term is answered by an index: the primary key, (chat, -id), the sender's
        foreign key. Free text is a scan, so it is searched only inside one chat."""
        term = search_term.strip()
        if not term:
            return queryset, False
        head, _, words = term.partition(" ")
        chat = _CHAT_TERM.match(head)
        if chat:
            queryset = queryset.filter(chat_id=int(chat[1]))
            if words.strip():
                queryset = queryset.filter(message__icontains=words.strip())
            return queryset, False
        if term.lstrip("#").isdigit():
            return queryset.filter(pk=int(term.lstrip("#"))), False
        user_id = parse_user_id(term)
        if user_id is not None:
            return queryset.filter(sender_id=user_id), False
        self.message_user(
            request,
            "Text is searched within one chat: write chat:<id> before the words (a search of every "
            "message would read them all).",
            messages.WARNING,
        )
        return queryset.none(), False

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
class FriendshipAdmin(UncountedListMixin, IndexedSearchMixin, admin.ModelAdmin):
    list_display = ["id", "requester", "addressee", "status", "blocked_by", "last_modification_time"]
    list_filter = ["status"]
    search_user_fields = ("requester", "addressee")  # each the head of an index
    search_help_text = "A friendship id, or a user's GUID for their friendships."
    ordering = ["-id"]
    raw_id_fields = ["requester", "addressee", "blocked_by"]
    list_select_related = ["requester", "addressee"]
