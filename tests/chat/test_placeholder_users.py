"""CONTRACT §2: a well-formed GUID named before its user's first token is a placeholder user."""

import threading
import uuid

import pytest
from django.db import connection

from chat.models import User
from chat.services.users import user_deactivate, user_get_or_placeholder, users_get_or_placeholder
from chat.tokens import TokenClaims, authenticate_token, issue_token, user_for_claims


@pytest.mark.django_db
def test_an_unknown_guid_becomes_a_placeholder_with_no_name_or_avatar():
    uid = uuid.uuid4()
    user = user_get_or_placeholder(user_id=uid)
    assert user is not None and user.pk == uid
    stored = User.objects.get(pk=uid)
    assert (stored.name, stored.avatar, stored.is_active) == ("", "", True)
    assert not stored.has_usable_password()
    # Named again: the same row, nothing new.
    assert user_get_or_placeholder(user_id=str(uid)).pk == uid
    assert User.objects.filter(pk=uid).count() == 1


@pytest.mark.django_db
def test_the_first_token_fills_the_placeholder_in():
    uid = uuid.uuid4()
    user_get_or_placeholder(user_id=uid)
    user = authenticate_token(issue_token(uid, name="Bob", picture="https://cdn.example/bob.png"))
    assert (user.pk, user.name, user.avatar) == (uid, "Bob", "https://cdn.example/bob.png")
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_existing_users_are_returned_unchanged(make_user):
    alice = make_user("Alice")
    assert user_get_or_placeholder(user_id=alice.pk) == alice
    assert User.objects.get(pk=alice.pk).name == "Alice"


@pytest.mark.django_db
def test_off_malformed_and_deactivated_give_none(settings, make_user):
    assert user_get_or_placeholder(user_id="not-a-guid") is None
    assert user_get_or_placeholder(user_id=None) is None
    gone = make_user("Gone")
    user_deactivate(user_id=gone.pk)
    assert user_get_or_placeholder(user_id=gone.pk) is None
    settings.CHAT_PROVISION_REFERENCED_USERS = False
    assert user_get_or_placeholder(user_id=uuid.uuid4()) is None
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_many_at_once_keep_order_and_drop_duplicates(make_user, django_assert_max_num_queries):
    alice = make_user("Alice")
    new = [uuid.uuid4() for _ in range(5)]
    with django_assert_max_num_queries(3):
        users = users_get_or_placeholder(user_ids=[new[0], alice.pk, *new[1:], new[0], "junk"])
    assert [u.pk for u in users] == [new[0], alice.pk, *new[1:]]
    assert User.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_two_creators_at_once_get_one_row():
    """Two requests naming the same new GUID at the same moment (and a first token racing them)."""
    uid = uuid.uuid4()
    barrier = threading.Barrier(3)
    results, errors = [], []

    def name_it():
        try:
            barrier.wait()
            results.append(user_get_or_placeholder(user_id=uid).pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def log_in():
        try:
            barrier.wait()
            results.append(user_for_claims(TokenClaims(user_id=uid, name="Bob", picture=None, expires_at=0)).pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=name_it), threading.Thread(target=name_it), threading.Thread(target=log_in)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [] and results == [uid, uid, uid]
    assert User.objects.filter(pk=uid).count() == 1
    # Whoever won, the token's name is there: a token that loses the race refreshes the row it lost to.
    assert User.objects.get(pk=uid).name == "Bob"
