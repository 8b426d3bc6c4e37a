"""REST input shapes (validation of shape only) and the output shapes that only REST has."""

from __future__ import annotations

from rest_framework import serializers

from chat.validation import StrictCharField
from notifications.devices import MAX_TOKEN_LENGTH
from notifications.models import Platform


class ChatHeaderQuery(serializers.Serializer):
    user1Id = serializers.UUIDField()
    user2Id = serializers.UUIDField()


class FriendshipRequestInput(serializers.Serializer):
    userId = serializers.UUIDField()


class FriendshipDto(serializers.Serializer):
    userId = serializers.UUIDField()
    name = serializers.CharField(allow_null=True, help_text="null while unknown (a placeholder user)")
    avatar = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(help_text="0 pending, 1 accepted, 2 rejected, 3 blocked")
    direction = serializers.ChoiceField(
        choices=["incoming", "outgoing"], help_text="outgoing: you asked (for a block: you blocked)"
    )
    chatHeaderId = serializers.IntegerField(allow_null=True)


class GroupCreateInput(serializers.Serializer):
    name = StrictCharField(max_length=200)
    memberIds = serializers.ListField(child=serializers.UUIDField(), allow_empty=True, max_length=1000, default=list)


class GroupMembersAddInput(serializers.Serializer):
    userIds = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=1000)


class DeviceInput(serializers.Serializer):
    token = StrictCharField(max_length=MAX_TOKEN_LENGTH)
    platform = serializers.ChoiceField(choices=Platform.values)


class DeviceDto(serializers.Serializer):
    token = serializers.CharField()
    platform = serializers.ChoiceField(choices=Platform.values)
    creationTime = serializers.DateTimeField()
