"""REST input shapes (validation of shape only) and the output shapes that only REST has."""

from __future__ import annotations

from rest_framework import serializers

from chat.validation import StrictCharField


class ChatHeaderQuery(serializers.Serializer):
    user1Id = serializers.UUIDField()
    user2Id = serializers.UUIDField()


class FriendshipRequestInput(serializers.Serializer):
    userId = serializers.UUIDField()


class GroupCreateInput(serializers.Serializer):
    name = StrictCharField(max_length=200)
    memberIds = serializers.ListField(child=serializers.UUIDField(), allow_empty=True, max_length=1000, default=list)


class GroupMembersAddInput(serializers.Serializer):
    userIds = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=1000)
