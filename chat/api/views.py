"""REST views for chats and groups (CONTRACT §6). Thin: validate the shape, call one service, answer a DTO."""

from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.schema import ERRORS, envelope
from chat.api.serializers import ChatHeaderQuery, GroupCreateInput, GroupMembersAddInput
from chat.dtos import ChatHeaderDto
from chat.errors import Forbidden, Invalid, success_envelope
from chat.selectors.chats import chat_header_dto_for
from chat.services.chats import chat_direct_open
from chat.services.groups import group_create, group_member_remove, group_members_add
from chat.state.ratelimit import check_rate, rate_allows, rate_hit
from chat.state.reads import with_presence
from chat.validation import MAX_ID, parse_user_id


def parsed(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def chat_id_arg(value: str) -> int:
    """A chat id from the path. One that cannot exist is `forbidden` like one that is not yours."""
    try:
        chat_id = int(value)
    except (TypeError, ValueError):
        chat_id = 0
    if not 1 <= chat_id <= MAX_ID:
        raise Forbidden("You are not a member of this chat.")
    return chat_id


ChatHeaderEnvelope = envelope("ChatHeaderResponse", ChatHeaderDto())


class ChatHeaderView(APIView):
    @extend_schema(
        operation_id="getChatHeaderAsync",
        summary="Get or create the one-to-one chat of two users",
        description="The caller must be one of the two users (else 403). Creates the chat on first use; "
        "it does not join any socket room.",
        parameters=[
            OpenApiParameter("user1Id", uuid.UUID, required=True),
            OpenApiParameter("user2Id", uuid.UUID, required=True),
        ],
        responses={200: ChatHeaderEnvelope, **ERRORS},
        tags=["chats"],
    )
    def get(self, request):
        query = parsed(ChatHeaderQuery, request.query_params)
        me = request.user
        ids = (query["user1Id"], query["user2Id"])
        if me.pk not in ids:
            raise Forbidden("You can only open chats you are part of.")
        if ids[0] == ids[1]:
            raise Invalid("user2Id: you cannot start a chat with yourself.")
        other_id = ids[1] if ids[0] == me.pk else ids[0]
        # Rate limits and presence are the async state layer's, awaited outside any transaction. Only a
        # call that creates the chat counts as a new chat.
        may_create = async_to_sync(rate_allows)(user_id=me.pk, action="newChat")
        chat, created = chat_direct_open(user=me, other_id=other_id, may_create=may_create)
        if created:
            async_to_sync(rate_hit)(user_id=me.pk, action="newChat")
        header = async_to_sync(with_presence)(chat_header_dto_for(viewer=me, chat_id=chat.pk))
        return Response(success_envelope(header))


class GroupCreateView(APIView):
    @extend_schema(
        operation_id="createGroup",
        summary="Create a group chat",
        description="The creator becomes its admin; `memberIds` are the other members.",
        request=GroupCreateInput,
        responses={201: ChatHeaderEnvelope, **ERRORS},
        tags=["groups"],
    )
    def post(self, request):
        data = parsed(GroupCreateInput, request.data)
        async_to_sync(check_rate)(user_id=request.user.pk, action="newChat")  # before anything is written
        chat = group_create(creator=request.user, name=data["name"], member_ids=data["memberIds"])
        header = async_to_sync(with_presence)(chat_header_dto_for(viewer=request.user, chat_id=chat.pk))
        return Response(success_envelope(header), status=status.HTTP_201_CREATED)


class GroupMembersView(APIView):
    @extend_schema(
        operation_id="addGroupMembers",
        summary="Add members to a group (admins only)",
        description="Users already in the group are skipped. Each new member is announced with `onMemberJoin` "
        "to the group's room. Non-members get 403 whether or not the group exists.",
        request=GroupMembersAddInput,
        responses={200: ChatHeaderEnvelope, **ERRORS},
        tags=["groups"],
    )
    def post(self, request, chat_id: str):
        chat_id = chat_id_arg(chat_id)
        data = parsed(GroupMembersAddInput, request.data)
        group_members_add(actor=request.user, chat_id=chat_id, user_ids=data["userIds"])
        header = async_to_sync(with_presence)(chat_header_dto_for(viewer=request.user, chat_id=chat_id))
        return Response(success_envelope(header))


class GroupMemberView(APIView):
    @extend_schema(
        operation_id="removeGroupMember",
        summary="Remove a member from a group, or leave it",
        description="Admins remove anyone; anyone may remove themselves. The removed user's sockets leave the "
        "group's room. `data` is the group as the caller now sees it, or null when the caller left.",
        responses={200: envelope("GroupMemberRemoveResponse", ChatHeaderDto(allow_null=True)), **ERRORS},
        tags=["groups"],
    )
    def delete(self, request, chat_id: str, user_id: str):
        chat_id = chat_id_arg(chat_id)
        target = parse_user_id(user_id)
        group_member_remove(actor=request.user, chat_id=chat_id, user_id=target)
        data = None
        if target != request.user.pk:
            data = async_to_sync(with_presence)(chat_header_dto_for(viewer=request.user, chat_id=chat_id))
        return Response(success_envelope(data))
