"""Message reads: history pages (CONTRACT §4 `findAllMessages`)."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from chat import dtos
from chat.models import ChatMember, ChatMessage, User
from chat_project.errors import Forbidden

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def _visible_count() -> Coalesce:
    count = (
        ChatMessage.objects.filter(chat_id=OuterRef("chat_id"), is_deleted=False)
        .order_by()
        .values("chat_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


def message_page(
    *,
    user: User,
    chat_id: int,
    before_id: int | None = None,
    skip: int = 0,
    limit: int = DEFAULT_PAGE_SIZE,
) -> dict:
    """A page of a chat's history as `user` may see it: `{"items": [MessageDto], "totalCount": n}`.

    Members only (`forbidden` otherwise, whether or not the chat exists). Newest first; with
    `before_id`, only messages older than it (a keyset page on the (chat, -id) index, which stays
    fast however deep the page); `skip` then skips within that. `limit` is clamped to 0..100. Deleted
    messages never appear. `totalCount` counts the chat's visible messages whatever the cursor.

    Two queries whatever the page size: the membership with the count, then the page with its senders.
    """
    limit = max(0, min(int(limit), MAX_PAGE_SIZE))
    skip = max(0, int(skip))
    total = (
        ChatMember.objects.filter(chat_id=chat_id, user_id=user.pk)
        .annotate(total=_visible_count())
        .values_list("total", flat=True)
        .first()
    )
    if total is None:
        raise Forbidden("You are not a member of this chat.")
    if limit == 0:
        return {"items": [], "totalCount": total}
    page = ChatMessage.objects.filter(chat_id=chat_id, is_deleted=False)
    if before_id is not None:
        page = page.filter(id__lt=before_id)
    rows = page.order_by("-id").values(*dtos.MESSAGE_DTO_VALUES)[skip : skip + limit]
    return {"items": [dtos.message_dto_from_values(row) for row in rows], "totalCount": total}
