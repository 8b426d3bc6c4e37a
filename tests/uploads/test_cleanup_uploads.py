"""`manage.py cleanup_uploads`: files no message references (CONTRACT §8)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from chat.services.chats import chat_direct_get_or_create
from chat.services.messages import message_create, message_remove
from tests.uploads import files
from tests.uploads.helpers import uploaded
from uploads.models import Upload

pytestmark = pytest.mark.django_db


def test_unreferenced_uploads_are_deleted(api, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    client = api(alice)

    used = uploaded(client, files.wav(), "a.wav", 1)
    used_by_deleted = uploaded(client, b"doc", "a.txt", 3)
    orphan = uploaded(client, files.png(), "a.png", 2)
    fresh = uploaded(client, b"fresh", "b.txt", 3)
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)

    def sent(message_type, text):
        return message_create(sender=alice, chat_id=chat.pk, message_type=message_type, text=text)[0]

    sent(1, used)
    deleted = sent(3, used_by_deleted)
    message_remove(user=alice, chat_id=chat.pk, message_ids=[deleted.pk])
    # The same path in a message of another type does not count.
    sent(0, orphan)
    # Uploaded two days ago: no service uploads in the past, and the cleanup spares fresh uploads.
    Upload.objects.exclude(path=fresh).update(creation_time=timezone.now() - timedelta(days=2))

    out = StringIO()
    call_command("cleanup_uploads", "--dry-run", stdout=out)
    assert orphan in out.getvalue() and "would delete 1" in out.getvalue()
    assert Upload.objects.count() == 4

    out = StringIO()
    call_command("cleanup_uploads", stdout=out)
    assert "deleted 1" in out.getvalue()
    assert set(Upload.objects.values_list("path", flat=True)) == {used, used_by_deleted, fresh}
    assert not default_storage.exists(orphan.removeprefix("/uploads/"))
    assert default_storage.exists(used.removeprefix("/uploads/"))

    call_command("cleanup_uploads", "--older-than", "0", stdout=StringIO())
    assert not Upload.objects.filter(path=fresh).exists()
