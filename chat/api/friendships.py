"""REST views for friendships (CONTRACT §6)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.schema import ERRORS, ErrorEnvelope, envelope
from chat.api.serializers import FriendshipRequestInput
from chat.api.views import parsed
from chat.dtos import FriendshipDto
from chat.errors import success_envelope
from chat.selectors.chats import user_get
from chat.selectors.friendships import friendship_dto_for, friendship_list_for_user
from chat.services import friendships as services
from chat.state.ratelimit import check_rate

FriendshipEnvelope = envelope("FriendshipResponse", FriendshipDto())


class FriendshipListView(APIView):
    @extend_schema(
        operation_id="listFriendships",
        summary="The caller's friendships of every status",
        responses={200: envelope("FriendshipListResponse", FriendshipDto(many=True)), **ERRORS},
        tags=["friendships"],
    )
    def get(self, request):
        return Response(success_envelope(friendship_list_for_user(user=request.user)))

    @extend_schema(
        operation_id="requestFriendship",
        summary="Send a friend request",
        description="201 when a request was sent; 200 when nothing new happened (already asked, already "
        "friends) or when the other user had already asked you, which accepts their request. A GUID this "
        "server never saw is a user whose first token has not reached it yet: the request waits for them. "
        "At most 20 requests a minute (`CHAT_RATE_LIMIT_FRIEND_REQUESTS`), then 429.",
        request=FriendshipRequestInput,
        responses={201: FriendshipEnvelope, 200: FriendshipEnvelope, **ERRORS, 429: ErrorEnvelope},
        tags=["friendships"],
    )
    def post(self, request):
        data = parsed(FriendshipRequestInput, request.data)
        # The async state layer, outside any transaction; a refused request writes nothing.
        async_to_sync(check_rate)(user_id=request.user.pk, action="friendRequest")
        friendship, changed = services.friendship_request_to(user=request.user, other_id=data["userId"])
        created = changed and friendship.status == 0
        return Response(
            success_envelope(friendship_dto_for(user=request.user, friendship=friendship)),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class FriendshipAnswerView(APIView):
    answer = None  # the service of the answer: each subclass names one (a docstring would reach the schema)

    def post(self, request, user_id: str):
        friendship = self.answer(user=request.user, other=user_get(user_id=user_id))
        return Response(success_envelope(friendship_dto_for(user=request.user, friendship=friendship)))


@extend_schema_view(
    post=extend_schema(
        operation_id="acceptFriendship",
        summary="Accept a friend request (the addressee only)",
        request=None,
        responses={200: FriendshipEnvelope, **ERRORS},
        tags=["friendships"],
    )
)
class FriendshipAcceptView(FriendshipAnswerView):
    answer = staticmethod(services.friendship_accept)


@extend_schema_view(
    post=extend_schema(
        operation_id="rejectFriendship",
        summary="Reject a friend request (the addressee only)",
        request=None,
        responses={200: FriendshipEnvelope, **ERRORS},
        tags=["friendships"],
    )
)
class FriendshipRejectView(FriendshipAnswerView):
    answer = staticmethod(services.friendship_reject)


class FriendshipBlockView(APIView):
    @extend_schema(
        operation_id="blockUser",
        summary="Block a user",
        description="Either user may block the other, with or without an earlier request. Blocked users "
        "cannot message each other; only the blocker can lift it (DELETE).",
        request=None,
        responses={201: FriendshipEnvelope, 200: FriendshipEnvelope, **ERRORS},
        tags=["friendships"],
    )
    def post(self, request, user_id: str):
        friendship, created = services.friendship_block(user=request.user, other=user_get(user_id=user_id))
        return Response(
            success_envelope(friendship_dto_for(user=request.user, friendship=friendship)),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class FriendshipDetailView(APIView):
    @extend_schema(
        operation_id="deleteFriendship",
        summary="Unfriend, withdraw or decline a request, or unblock (the blocker only)",
        request=None,
        responses={200: envelope("FriendshipDeleteResponse", serializers.JSONField(allow_null=True)), **ERRORS},
        tags=["friendships"],
    )
    def delete(self, request, user_id: str):
        services.friendship_delete(user=request.user, other=user_get(user_id=user_id))
        return Response(success_envelope(None))
