"""The chat data model. Integrity rules live in the database, not only in code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from chat.search_text import document as search_document


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, id=None, name: str = "", password: str | None = None, **extra):
        user = self.model(id=id or uuid.uuid4(), name=name, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, id=None, name: str = "", password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(id=id, name=name, password=password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A chat user. The primary key is the GUID that clients send as `userId`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, blank=True, default="")
    avatar = models.URLField(max_length=1000, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Moderators: may use the admin.")
    date_joined = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "id"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or str(self.id)

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name


class ChatType(models.IntegerChoices):
    INDIVIDUAL = 0, "One-to-one"
    GROUP = 1, "Group"


def direct_pair_key(user_a_id, user_b_id) -> str:
    """The unordered pair of two users as one string: the same for (a, b) and (b, a)."""
    low, high = sorted([str(user_a_id), str(user_b_id)])
    return f"{low}:{high}"


class ChatHeader(models.Model):
    """A conversation: one-to-one (keyed by the user pair) or a named group."""

    chat_type = models.PositiveSmallIntegerField(choices=ChatType.choices, default=ChatType.INDIVIDUAL)
    name = models.CharField(max_length=200, blank=True, default="")
    avatar = models.URLField(max_length=1000, blank=True, default="")
    # Only for one-to-one chats; unique so that a pair can never get two chats, even in a race.
    direct_key = models.CharField(max_length=80, null=True, blank=True, editable=False)
    created_by = models.ForeignKey("chat.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    creation_time = models.DateTimeField(default=timezone.now)
    # Denormalised so that "most recent activity first" is one indexed sort.
    last_message = models.ForeignKey(
        "chat.ChatMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_activity_time = models.DateTimeField(default=timezone.now)
    # Kept by the message services so that a history page's `totalCount` is one row read, not a count
    # over every message of a long chat (54 ms at 200,000 messages on SQLite).
    message_count = models.PositiveIntegerField(default=0, help_text="Messages that are not deleted.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["direct_key"], name="chatheader_unique_direct_pair"),
            models.CheckConstraint(
                condition=(Q(chat_type=ChatType.INDIVIDUAL) & Q(direct_key__isnull=False))
                | (Q(chat_type=ChatType.GROUP) & Q(direct_key__isnull=True)),
                name="chatheader_direct_key_iff_individual",
            ),
        ]
        indexes = [models.Index(fields=["-last_activity_time", "-id"], name="chatheader_activity_idx")]

    def __str__(self) -> str:
        if self.chat_type == ChatType.GROUP:
            return self.name or f"Group {self.pk}"
        return f"Chat {self.pk}"

    @property
    def is_group(self) -> bool:
        return self.chat_type == ChatType.GROUP


# `ChatMember.muted_until` of a mute "until unmuted" (CONTRACT §9): the wire shows 9999-12-31T23:59:59Z.
MUTED_FOREVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


class ChatMember(models.Model):
    chat = models.ForeignKey(ChatHeader, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey("chat.User", on_delete=models.CASCADE, related_name="memberships")
    is_admin = models.BooleanField(default=False)
    # The id is a high-water mark ("read up to here"), so it must survive the purge of that message:
    # no database constraint and no cascade, or purging would mark the whole chat unread.
    last_read_message = models.ForeignKey(
        "chat.ChatMessage",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Delivered ("reached a device of this member up to here"), a high-water mark like the read mark.
    last_delivered_message = models.ForeignKey(
        "chat.ChatMessage",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    joined_time = models.DateTimeField(default=timezone.now)
    # The change feed's position of this membership's start: `sync` shows the member the chat's changes
    # from here on, never those from before (a member removed and added again misses the time between).
    joined_seq = models.BigIntegerField(default=0, editable=False)
    # Muted (CONTRACT §9): no message pushes to this member while it lies ahead; an end in the past is
    # simply over, so no job ever clears it. "Until unmuted" is MUTED_FOREVER.
    muted_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chat", "user"], name="chatmember_unique_chat_user")]
        indexes = [models.Index(fields=["user", "chat"], name="chatmember_user_chat_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.chat_id}"


class MessageType(models.IntegerChoices):
    TEXT = 0, "Text"
    AUDIO = 1, "Audio"
    IMAGE = 2, "Image"
    FILE = 3, "File"
    VIDEO = 4, "Video"


class SearchTextField(models.TextField):
    """`ChatMessage.search_text`: the folded words that message search indexes (chat.search_text),
    computed from the message's text (text messages only: media keep a path there) and caption on every
    write that includes it, so no write path can forget it (`save`, `bulk_create`, the group commit's
    INSERT; an edit names it in `update_fields`)."""

    def pre_save(self, model_instance, add):
        text = model_instance.message if model_instance.message_type == MessageType.TEXT else ""
        value = search_document(text, model_instance.caption)
        setattr(model_instance, self.attname, value)
        return value


class ChatMessage(models.Model):
    # No index of its own: chatmessage_chat_id_idx (chat, -id) serves every chat_id look-up and FK check.
    chat = models.ForeignKey(ChatHeader, on_delete=models.CASCADE, db_index=False, related_name="messages")
    sender = models.ForeignKey("chat.User", on_delete=models.CASCADE, related_name="messages")
    message_type = models.PositiveSmallIntegerField(choices=MessageType.choices, default=MessageType.TEXT)
    message = models.TextField(help_text="The text, or the uploaded media path.")
    caption = models.TextField(blank=True, default="")
    client_message_id = models.CharField(max_length=64, null=True, blank=True)
    creation_time = models.DateTimeField(default=timezone.now)
    last_modification_time = models.DateTimeField(null=True, blank=True)
    is_edited = models.BooleanField(default=False)
    is_deleted = models.BooleanField(default=False)
    deletion_time = models.DateTimeField(null=True, blank=True)
    # The change feed's position of the message's latest change (created, edited, restored): MessageDto.seq.
    seq = models.BigIntegerField(null=True, blank=True, editable=False)
    # The message this one answers (CONTRACT §9 `replyTo`), always of the same chat. SET_NULL: a purged
    # original leaves the reply without its preview (a deleted one is still shown, as deleted).
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, db_index=False, related_name="+"
    )
    # What searchMessages matches (CONTRACT §9): a GIN index over to_tsvector('simple', search_text) on
    # PostgreSQL, the FTS5 table chat_message_fts kept by triggers on SQLite (migration 0006_search).
    search_text = SearchTextField(blank=True, default="", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "chat", "client_message_id"],
                condition=Q(client_message_id__isnull=False),
                name="chatmessage_unique_client_id",
            ),
            models.CheckConstraint(condition=Q(message_type__lte=4), name="chatmessage_type_range"),
        ]
        indexes = [
            # Newest-first pages within a chat: WHERE chat_id = ? AND id < ? ORDER BY id DESC.
            models.Index(fields=["chat", "-id"], name="chatmessage_chat_id_idx"),
            # Media messages by their upload path: every GET /uploads/ asks whether a visible message
            # still carries its file, and createMessage whether a forwarded path is in the sender's
            # chats (CONTRACT §11). Partial: text is never looked up this way, and may be too long for
            # a B-tree entry. A query must repeat `message_type > 0` for the index to be used.
            models.Index(fields=["message"], condition=Q(message_type__gt=0), name="chatmessage_media_path_idx"),
            # The admin's "deleted" filter at millions of rows (ORDER BY id DESC LIMIT 101): only deleted rows.
            models.Index(fields=["-id"], condition=Q(is_deleted=True), name="chatmessage_deleted_idx"),
            # The purge's SET_NULL of replies to a purged message; only replies are in it.
            models.Index(fields=["reply_to"], condition=Q(reply_to__isnull=False), name="chatmessage_reply_to_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} in {self.chat_id}"


class Reaction(models.Model):
    """One emoji of one user on one message (CONTRACT §9 `reactMessage`): a row per (message, user, emoji)."""

    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, db_index=False, related_name="reactions")
    user = models.ForeignKey("chat.User", on_delete=models.CASCADE, db_index=False, related_name="+")
    emoji = models.CharField(max_length=64)
    creation_time = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the index of a page's reactions: WHERE message_id IN (...).
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="reaction_unique_message_user_emoji")
        ]
        indexes = [models.Index(fields=["user"], name="reaction_user_idx")]  # a deleted user's cascade

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on #{self.message_id}"


class FriendshipStatus(models.IntegerChoices):
    PENDING = 0, "Pending"
    ACCEPTED = 1, "Accepted"
    REJECTED = 2, "Rejected"
    BLOCKED = 3, "Blocked"


class Friendship(models.Model):
    """One row per unordered pair of users."""

    requester = models.ForeignKey("chat.User", on_delete=models.CASCADE, related_name="friendships_sent")
    addressee = models.ForeignKey("chat.User", on_delete=models.CASCADE, related_name="friendships_received")
    pair_key = models.CharField(max_length=80, editable=False)
    status = models.PositiveSmallIntegerField(choices=FriendshipStatus.choices, default=FriendshipStatus.PENDING)
    blocked_by = models.ForeignKey("chat.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    creation_time = models.DateTimeField(default=timezone.now)
    last_modification_time = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pair_key"], name="friendship_unique_pair"),
            models.CheckConstraint(condition=~Q(requester=models.F("addressee")), name="friendship_not_self"),
            models.CheckConstraint(
                condition=(Q(status=FriendshipStatus.BLOCKED) & Q(blocked_by__isnull=False))
                | (~Q(status=FriendshipStatus.BLOCKED) & Q(blocked_by__isnull=True)),
                name="friendship_blocked_by_iff_blocked",
            ),
        ]
        indexes = [
            models.Index(fields=["requester", "status"], name="friendship_requester_idx"),
            models.Index(fields=["addressee", "status"], name="friendship_addressee_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.requester_id} → {self.addressee_id} ({self.get_status_display()})"

    def save(self, *args, **kwargs):
        self.pair_key = direct_pair_key(self.requester_id, self.addressee_id)
        super().save(*args, **kwargs)

    def other(self, user_id):
        return self.addressee_id if str(self.requester_id) == str(user_id) else self.requester_id


class ChangeKind(models.IntegerChoices):
    """What a `Change` says happened; the labels are the wire's `type` (CONTRACT §9)."""

    MESSAGE_CREATED = 1, "message.created"
    MESSAGE_UPDATED = 2, "message.updated"
    MESSAGE_DELETED = 3, "message.deleted"
    MESSAGE_REACTIONS = 4, "message.reactions"
    CHAT_READ = 5, "chat.read"
    CHAT_DELIVERED = 6, "chat.delivered"
    MEMBER_JOINED = 7, "member.joined"
    MEMBER_LEFT = 8, "member.left"
    CHAT_CREATED = 9, "chat.created"
    CHAT_SETTINGS = 10, "chat.settings"
    FRIENDSHIP_CHANGED = 11, "friendship.changed"


class Change(models.Model):
    """One entry of the change feed (CONTRACT §9), written in the transaction of the change it records.

    `seq` comes from `ChangeCounter` (chat.services.changes), whose row lock makes seqs commit in seq
    order. Who sees it: with `audience` set, that user alone; else the members of `chat` whose
    membership began at or before it (`ChatMember.joined_seq`). Message changes name their message and
    are shown with its current state; the others keep what they say in `data`.
    """

    seq = models.BigIntegerField(primary_key=True)
    kind = models.PositiveSmallIntegerField(choices=ChangeKind.choices)
    chat = models.ForeignKey(
        ChatHeader,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )
    audience = models.ForeignKey(
        "chat.User",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )
    message_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    data = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["chat", "seq"], name="change_chat_seq_idx"),
            models.Index(fields=["audience", "seq"], condition=Q(audience__isnull=False), name="change_audience_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.get_kind_display()}"


class ChangeCounter(models.Model):
    """The change feed's one counter row: `head`, the last seq handed out (and, once its transaction
    commits, every seq up to it is committed), and `pruned_through`, the last seq deleted by pruning."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    head = models.BigIntegerField(default=0)
    pruned_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"change feed at {self.head}"
