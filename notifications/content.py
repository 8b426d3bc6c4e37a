"""What a push says (CONTRACT §7): title, body and data of a new-message push and of a read push."""

from __future__ import annotations

from chat.models import ChatHeader, ChatMessage, MessageType

BODY_LIMIT = 200
TITLE_LIMIT = 200

MEDIA_LABELS = {
    MessageType.IMAGE: "📷 Photo",
    MessageType.AUDIO: "🎤 Audio",
    MessageType.VIDEO: "🎥 Video",
    MessageType.FILE: "📎 File",
}


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def message_title(message: ChatMessage, chat: ChatHeader) -> str:
    sender = message.sender.name or "Someone"
    if chat.is_group:
        return _cut(f"{sender} · {chat.name or 'Group'}", TITLE_LIMIT)
    return _cut(sender, TITLE_LIMIT)


def message_body(message: ChatMessage) -> str:
    """The text cut at 200 characters, or the media label with the caption."""
    label = MEDIA_LABELS.get(message.message_type)
    if label is None:
        return _cut(message.message, BODY_LIMIT)
    caption = (message.caption or "").strip()
    return _cut(f"{label}: {caption}" if caption else label, BODY_LIMIT)


def message_data(message: ChatMessage) -> dict[str, str]:
    """Every value a string, as FCM requires."""
    return {
        "type": "message",
        "chatHeaderId": str(message.chat_id),
        "messageId": str(message.pk),
        "messageType": str(int(message.message_type)),
        "senderId": str(message.sender_id),
    }


def read_data(*, chat_id: int, last_read_message_id: int | None) -> dict[str, str]:
    return {
        "type": "read",
        "chatHeaderId": str(chat_id),
        "lastReadMessageId": "" if last_read_message_id is None else str(last_read_message_id),
    }
