"""REST routes under /api/ (CONTRACT §6).

Path arguments are plain strings parsed by the views, so that a malformed id is answered with the
JSON envelope (403/404) like any other, never with Django's HTML 404 page.
"""

from django.http import JsonResponse
from django.urls import path, re_path

from chat.api import friendships, users, views
from chat.errors import error_envelope


def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer in the envelope too, not with Django's HTML page."""
    return JsonResponse(error_envelope("No such endpoint.", "not_found"), status=404)


urlpatterns = [
    path("chat/getChatHeaderAsync", views.ChatHeaderView.as_view(), name="chat-header"),
    path("chat/groups", views.GroupCreateView.as_view(), name="group-create"),
    path("chat/groups/<str:chat_id>/members", views.GroupMembersView.as_view(), name="group-members"),
    path("chat/groups/<str:chat_id>/members/<str:user_id>", views.GroupMemberView.as_view(), name="group-member"),
    path("friendships", friendships.FriendshipListView.as_view(), name="friendships"),
    path("friendships/<str:user_id>", friendships.FriendshipDetailView.as_view(), name="friendship"),
    path("friendships/<str:user_id>/accept", friendships.FriendshipAcceptView.as_view(), name="friendship-accept"),
    path("friendships/<str:user_id>/reject", friendships.FriendshipRejectView.as_view(), name="friendship-reject"),
    path("friendships/<str:user_id>/block", friendships.FriendshipBlockView.as_view(), name="friendship-block"),
    # "users/bulk" before "users/<user_id>", which would take "bulk" for an id.
    path("users/bulk", users.UserBulkView.as_view(), name="users-bulk"),
    path("users/<str:user_id>", users.UserDetailView.as_view(), name="user"),
    re_path(r"^.*$", api_not_found),
]
