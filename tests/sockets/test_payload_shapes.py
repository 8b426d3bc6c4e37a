"""The compiled payload shapes do what the DRF serializers they replaced did (issue 9).

For every socket event, hypothesis-generated payloads (valid ones, and ones wrong in every way a
field can be: missing, null, blank, of the wrong type, out of range, digit strings, NUL bytes, lone
surrogates, lists too long, ...) go through both: the same validated data, or the same error text.
The DRF serializers are kept verbatim in tests/sockets/drf_reference_payloads.py.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chat.errors import Invalid
from chat.sockets import message_payloads as m
from chat.sockets import room_payloads as r
from chat.sockets import social_payloads as sp
from chat.validation import MAX_ID, validate
from tests.sockets import drf_reference_payloads as drf

# --- values a field may be sent ------------------------------------------------------------------

scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
edge_integers = st.sampled_from([0, 1, 2, 4, 5, -1, 19, 20, 99, 100, 101, MAX_ID, MAX_ID + 1, -MAX_ID, 10**30, 2**64])
digit_strings = st.sampled_from(
    [
        "12",
        " 12 ",
        "12.0",
        "12.",
        "12.000 \n",
        "12.5",
        "1e3",
        "1_000",
        "+5",
        "-3",
        "0",
        "00",
        "",
        " ",
        "abc",
        "١٢",
        "\uff11\uff12",  # full-width digits
        "0x1f",
        str(MAX_ID),
        str(MAX_ID + 1),
        "9" * 1000,
        "9" * 1001,
        "5\n.",
        "12\x00",
    ]
) | st.integers(min_value=-5, max_value=2**64).map(str)
integers = (
    edge_integers
    | st.integers(min_value=-(2**70), max_value=2**70)
    | digit_strings
    | st.sampled_from([True, False, 1.0, 12.5, float("nan"), float("inf")])
)

awkward_text = st.sampled_from(
    [
        "",
        " ",
        "  hi  ",
        "\t\n",
        "\x1c",
        "hi\x00there",
        "\x00",
        "\ud800",
        "a\udfffb",
        " \ud83d\ude00 ",  # a surrogate pair as two code points: not one emoji
        "😀",
        "مرحبا",
        "é" * 64,
        "x" * 65,
        "x" * 1000,
        " " + "x" * 1000 + " ",
        "x" * 1001,
        "x" * 1001 + "\x00",
        "\x00" + "\ud800",
        "Bearer token",
    ]
)
strings = (
    awkward_text
    | st.text(max_size=20)
    | st.text(st.sampled_from(["a", " ", "\t", "\x00", "\ud800", "\udc00", "é", "😀", "\u2028"]), max_size=8)
)
guids = (
    st.sampled_from(
        [
            str(uuid.UUID(int=7)),
            str(uuid.UUID(int=7)).upper(),
            uuid.UUID(int=7).hex,
            "{" + str(uuid.UUID(int=7)) + "}",
            "urn:uuid:" + str(uuid.UUID(int=7)),
            " " + uuid.UUID(int=7).hex + " ",
            "0_" + "0" * 30,
            "not-a-guid",
            "",
            "0" * 33,
        ]
    )
    | st.uuids().map(str)
    | st.integers(min_value=0, max_value=2**128)
)
booleans = st.booleans() | st.sampled_from([0, 1, "true", "false", None, "", 1.0])


def id_lists(item, *, limit: int):
    return (
        st.lists(item | st.none(), max_size=5)
        | st.builds(
            lambda n, extra: [1] * n + extra, st.sampled_from([limit - 1, limit, limit + 1]), st.lists(item, max_size=2)
        )
        | st.sampled_from(["1,2", {"0": 1}, 3, "", [], [None]])
    )


good_ids = st.integers(min_value=1, max_value=10**6) | st.sampled_from(["7", MAX_ID])
good_counts = st.integers(min_value=0, max_value=200) | st.none()
good_text = st.text(max_size=20)
good_rooms = st.lists(
    st.fixed_dictionaries(
        {"ChatHeaderId": st.integers(1, 5)}, optional={"LastMessageId": st.integers(0, 9) | st.none()}
    ),
    max_size=4,
)
rooms_item = st.one_of(
    st.fixed_dictionaries({}, optional={"ChatHeaderId": integers, "LastMessageId": integers}),
    json_values,
)
# name: (values meant for the field, values of every kind)
IDS = (good_ids, integers)
COUNTS = (good_counts, integers)
TEXT = (good_text, strings)
TOKENS = {"accessToken": (st.just("t"), strings), "AccessToken": (st.just("t"), strings)}


def too_long_text(limit: int):
    """Strings around a length limit, with and without what else is wrong with them."""
    return st.builds(
        lambda n, tail: "x" * n + tail,
        st.sampled_from([limit - 1, limit, limit + 1]),
        st.sampled_from(["", "\x00", "\ud800", " "]),
    )


def mostly(good, wild, *, one_in: int = 10):
    """`good`, but `wild` once in `one_in` times."""
    return st.integers(min_value=1, max_value=one_in).flatmap(lambda i: wild if i == 1 else good)


def payloads(fields: dict):
    """Payloads of two kinds: any subset of the fields with any values; or every field but one at
    most, each mostly with a value meant for it, so that the later fields' checks are reached too."""
    names = sorted(fields)
    anything_goes = st.fixed_dictionaries(
        {},
        optional={
            **{name: st.one_of(wild, json_values) for name, (_, wild) in fields.items()},
            "unknownField": json_values,
        },
    )
    mostly_good = st.builds(
        lambda payload, drop: {k: v for k, v in payload.items() if k not in drop},
        st.fixed_dictionaries({name: mostly(good, wild, one_in=4) for name, (good, wild) in fields.items()}),
        st.sets(st.sampled_from(names), max_size=1),
    )
    return mostly(mostly_good, anything_goes)


EVENTS = {
    "createMessage": (
        m.CreateMessagePayload,
        drf.CreateMessagePayload,
        {
            "chatHeaderId": IDS,
            "message": TEXT,
            "messageType": (st.integers(0, 4), integers),
            "caption": (good_text | st.none(), strings),
            "clientMessageId": (st.text(max_size=64) | st.none(), strings | too_long_text(64)),
            "replyToMessageId": (good_ids | st.none(), integers),
        },
    ),
    "findAllMessages": (
        m.FindAllMessagesPayload,
        drf.FindAllMessagesPayload,
        {
            "chatHeaderId": IDS,
            **{
                name: COUNTS
                for name in [
                    "lastMessageId",
                    "LastMessageId",
                    "skipCount",
                    "SkipCount",
                    "maxResultCount",
                    "MaxResultCount",
                ]
            },
        },
    ),
    "updateMessage": (
        m.UpdateMessagePayload,
        drf.UpdateMessagePayload,
        {"id": IDS, "chatHeaderId": IDS, "message": TEXT, "caption": (good_text | st.none(), strings)},
    ),
    "removeMessage": (
        m.RemoveMessagePayload,
        drf.RemoveMessagePayload,
        {
            "id": (good_ids | st.none(), integers),
            "ids": (st.lists(good_ids, max_size=4) | st.none(), id_lists(integers, limit=100)),
            "chatHeaderId": IDS,
        },
    ),
    "readMessage": (m.ReadMessagePayload, drf.ReadMessagePayload, {"chatHeaderId": IDS}),
    "joinRoom": (
        r.JoinRoomPayload,
        drf.JoinRoomPayload,
        {
            "chatHeaderId": (good_ids | st.none(), integers),
            "otherUserId": (st.uuids().map(str) | st.none(), guids),
            "userId": (st.uuids().map(str) | st.none(), strings),
            "socketId": (good_text, strings | too_long_text(1000)),
            "accessToken": TOKENS["accessToken"],
        },
    ),
    "leaveRoom": (
        r.LeaveRoomPayload,
        drf.LeaveRoomPayload,
        {"chatHeaderId": IDS, "accessToken": TOKENS["accessToken"]},
    ),
    "roomTyping": (
        r.RoomTypingPayload,
        drf.RoomTypingPayload,
        {
            "isTyping": (st.booleans(), booleans),
            "name": (good_text, strings | too_long_text(1000)),
            "chatHeaderId": IDS,
            "accessToken": TOKENS["accessToken"],
        },
    ),
    "findAllChatHeaders": (
        r.FindAllChatHeadersPayload,
        drf.FindAllChatHeadersPayload,
        {
            "UserId": (st.uuids().map(str) | st.none(), strings | guids),
            "userId": (st.uuids().map(str) | st.just(""), strings | guids | too_long_text(1000)),
            "RoomsWithLastMessageIds": (good_rooms | st.none(), id_lists(rooms_item, limit=1000)),
            "SkipCount": (good_counts, integers | st.sampled_from([10**9, 10**9 + 1])),
            "MaxResultCount": (good_counts | st.just(1000), integers),
            **TOKENS,
        },
    ),
    "getMyFriendships/getMyChats": (r.TokenOnlyPayload, drf.TokenOnlyPayload, TOKENS),
    "reactMessage": (
        sp.ReactMessagePayload,
        drf.ReactMessagePayload,
        {
            "chatHeaderId": IDS,
            "messageId": IDS,
            "emoji": (st.sampled_from(["👍", " 🎉 ", "x"]), strings | too_long_text(64)),
            "remove": (st.booleans() | st.none(), booleans),
        },
    ),
    "unmuteChat": (sp.UnmuteChatPayload, drf.UnmuteChatPayload, {"chatHeaderId": IDS}),
    "searchMessages": (
        sp.SearchMessagesPayload,
        drf.SearchMessagesPayload,
        {
            "query": (good_text, strings | too_long_text(200)),
            "chatHeaderId": (good_ids | st.none(), integers),
            "skipCount": COUNTS,
            "maxResultCount": COUNTS,
        },
    ),
}


def outcome(check):
    try:
        return "valid", check()
    except Invalid as exc:
        return "invalid", exc.message


def assert_same(event: str, payload) -> None:
    shape, serializer, _ = EVENTS[event]
    expected = outcome(lambda: drf.validate(serializer, payload))
    got = outcome(lambda: validate(shape, payload))
    assert got == expected, f"{event} {payload!r}"
    if expected[0] == "valid":
        # The same keys, and values of the same types (a UUID stays a UUID, an int is no bool).
        assert {k: type(v) for k, v in got[1].items()} == {k: type(v) for k, v in expected[1].items()}


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_same_answer_as_the_drf_serializers(event):
    @settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(payload=payloads(EVENTS[event][2]))
    def check(payload):
        assert_same(event, payload)

    check()


@pytest.mark.parametrize("event", sorted(EVENTS))
@given(payload=json_values)
@example(payload=None)
@example(payload=[])
@settings(max_examples=50, deadline=None)
def test_same_answer_for_payloads_that_are_no_object(event, payload):
    assert_same(event, payload)


@pytest.mark.parametrize(
    ("event", "payload", "error"),
    [
        (
            "createMessage",
            {"chatHeaderId": "x", "message": "hi", "messageType": 0},
            "chatHeaderId: A valid integer is required.",
        ),
        (
            "createMessage",
            {"chatHeaderId": True, "message": "hi", "messageType": 0},
            "chatHeaderId: A valid integer is required.",
        ),
        (
            "createMessage",
            {"chatHeaderId": 0, "message": "hi", "messageType": 0},
            "chatHeaderId: Ensure this value is greater than or equal to 1.",
        ),
        (
            "createMessage",
            {"chatHeaderId": 2**63, "message": "hi", "messageType": 0},
            "chatHeaderId: Ensure this value is less than or equal to 9223372036854775807.",
        ),
        ("createMessage", {"chatHeaderId": 1, "messageType": 0}, "message: This field is required."),
        (
            "createMessage",
            {"chatHeaderId": 1, "message": None, "messageType": 0},
            "message: This field may not be null.",
        ),
        (
            "createMessage",
            {"chatHeaderId": 1, "message": "a\x00", "messageType": 0},
            "message: Null characters are not allowed.",
        ),
        ("createMessage", {"chatHeaderId": 1, "message": "\ud800", "messageType": 0}, "message: Not a valid string."),
        (
            "createMessage",
            {"chatHeaderId": 1, "message": "hi", "messageType": 5},
            "messageType: Ensure this value is less than or equal to 4.",
        ),
        (
            "createMessage",
            {"chatHeaderId": 1, "message": "hi", "messageType": 0, "clientMessageId": "x" * 65},
            "clientMessageId: Ensure this field has no more than 64 characters.",
        ),
        # The first check that fails is the one named: length before NUL bytes, items before the length.
        (
            "createMessage",
            {"chatHeaderId": 1, "message": "hi", "messageType": 0, "clientMessageId": "x" * 65 + "\x00"},
            "clientMessageId: Ensure this field has no more than 64 characters.",
        ),
        (
            "roomTyping",
            {"chatHeaderId": 1, "isTyping": True, "name": " " + "x" * 1000 + "\x00"},
            "name: Ensure this field has no more than 1000 characters.",
        ),
        ("roomTyping", {"chatHeaderId": 1, "isTyping": True, "name": " " + "x" * 1000 + " "}, None),
        ("removeMessage", {"chatHeaderId": 1, "ids": [1] * 101 + [None]}, "ids.101: This field may not be null."),
        (
            "findAllMessages",
            {"chatHeaderId": "12.0", "lastMessageId": 1.0},
            "lastMessageId: A valid integer is required.",
        ),
        ("roomTyping", {"chatHeaderId": 1, "isTyping": 1, "name": "a"}, "isTyping: Must be a valid boolean."),
        (
            "roomTyping",
            {"chatHeaderId": 1, "isTyping": True, "name": "\ud800"},
            "name: Surrogate characters are not allowed: U+D800.",
        ),
        ("removeMessage", {"chatHeaderId": 1, "ids": [1, "x"]}, "ids.1: A valid integer is required."),
        (
            "removeMessage",
            {"chatHeaderId": 1, "ids": [1] * 101},
            "ids: Ensure this field has no more than 100 elements.",
        ),
        ("removeMessage", {"chatHeaderId": 1}, "ids: Give the message `id` or a list of `ids`."),
        ("joinRoom", {}, "Provide chatHeaderId or otherUserId."),
        ("joinRoom", {"otherUserId": 5}, "otherUserId: Must be a valid UUID."),
        (
            "findAllChatHeaders",
            {"RoomsWithLastMessageIds": [{"ChatHeaderId": 1}, 7]},
            "RoomsWithLastMessageIds.1: Invalid data. Expected a dictionary, but got int.",
        ),
        (
            "findAllChatHeaders",
            {"RoomsWithLastMessageIds": [{"ChatHeaderId": "?"}]},
            "RoomsWithLastMessageIds.0.ChatHeaderId: A valid integer is required.",
        ),
        (
            "findAllChatHeaders",
            {"RoomsWithLastMessageIds": [None]},
            "RoomsWithLastMessageIds.0: This field may not be null.",
        ),
    ],
)
def test_known_answers(event, payload, error):
    """A few answers spelled out, so that a change of both sides at once still shows."""
    shape = EVENTS[event][0]
    if error is None:
        validate(shape, payload)
    else:
        with pytest.raises(Invalid) as raised:
            validate(shape, payload)
        assert raised.value.message == error
    assert_same(event, payload)


@pytest.mark.parametrize(
    ("event", "payload", "data"),
    [
        (
            "createMessage",
            {"chatHeaderId": "12", "message": " hi ", "messageType": 0},
            {"chat_id": 12, "text": " hi ", "message_type": 0},
        ),
        (
            "findAllMessages",
            {"chatHeaderId": 3, "LastMessageId": 0, "maxResultCount": 500},
            {"chat_id": 3, "before_id": None, "skip": 0, "limit": 500},
        ),
        (
            "findAllMessages",
            {"chatHeaderId": 3, "lastMessageId": None, "LastMessageId": 9, "SkipCount": 2},
            {"chat_id": 3, "before_id": 9, "skip": 2, "limit": 50},
        ),
        (
            "findAllChatHeaders",
            {
                "MaxResultCount": 1000,
                "RoomsWithLastMessageIds": [
                    {"ChatHeaderId": 4, "LastMessageId": 9},
                    {"ChatHeaderId": "4", "LastMessageId": 2},
                ],
            },
            {"rooms": {4: 2}, "skip": 0, "limit": 100, "user_ids": []},
        ),
    ],
)
def test_known_data(event, payload, data):
    assert validate(EVENTS[event][0], payload) == data
    assert_same(event, payload)


# --- the change feed's events (CONTRACT §9): no DRF serializer ever checked them, so spelled out ---

from chat.sockets import feed_payloads as f  # noqa: E402


@pytest.mark.parametrize(
    ("shape", "payload", "expected"),
    [
        (f.SyncPayload, {"since": None}, {"since": None, "limit": 200}),
        (f.SyncPayload, {"since": 0, "limit": 500}, {"since": 0, "limit": 500}),
        (f.SyncPayload, {"since": "12", "limit": 10_000}, {"since": 12, "limit": 10_000}),  # the selector clamps
        (f.SyncPayload, {}, "since: This field is required."),
        (f.SyncPayload, {"since": "abc"}, "since: A valid integer is required."),
        (f.SyncPayload, {"since": 1.5}, "since: A valid integer is required."),
        (f.SyncPayload, {"since": -1}, "since: Ensure this value is greater than or equal to 0."),
        (f.SyncPayload, {"since": 3, "limit": 0}, "limit: Ensure this value is greater than or equal to 1."),
        (f.SyncPayload, {"since": 3, "limit": "x"}, "limit: A valid integer is required."),
        (f.MarkDeliveredPayload, {"chatHeaderId": 7, "lastMessageId": "42"}, {"chat_id": 7, "last_message_id": 42}),
        (f.MarkDeliveredPayload, {"chatHeaderId": 7}, "lastMessageId: This field is required."),
        (
            f.MarkDeliveredPayload,
            {"chatHeaderId": 7, "lastMessageId": None},
            "lastMessageId: This field may not be null.",
        ),
        (
            f.MarkDeliveredPayload,
            {"chatHeaderId": 0, "lastMessageId": 1},
            "chatHeaderId: Ensure this value is greater than or equal to 1.",
        ),
    ],
)
def test_change_feed_payloads(shape, payload, expected):
    if isinstance(expected, dict):
        assert validate(shape, payload) == expected
        return
    with pytest.raises(Invalid) as raised:
        validate(shape, payload)
    assert raised.value.message == expected


@given(st.dictionaries(st.sampled_from(["since", "limit", "chatHeaderId", "lastMessageId"]), json_values))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_change_feed_payloads_answer_data_or_invalid(payload):
    """Whatever is sent: the validated data or `invalid`, never another error."""
    for shape in (f.SyncPayload, f.MarkDeliveredPayload):
        try:
            validate(shape, payload)
        except Invalid:
            pass
