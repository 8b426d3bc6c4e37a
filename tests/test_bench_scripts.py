"""The bench's in-process scripts keep up with the code they time: bench/sync.py's write cost swaps the
change log for a stub (`_NoLog`) that must speak whatever message_create_many asks of a log, on SQLite
and on PostgreSQL (where the batch's change rows ride on its INSERT)."""

from __future__ import annotations

import pytest

from bench import sync as bench_sync
from chat.models import ChatMessage
from chat.services import messages as message_services
from notifications import services as notification_services


@pytest.mark.django_db(transaction=True)
def test_the_write_cost_runs_with_and_without_the_change_log(monkeypatch):
    # write_cost() stubs out the pushes for good: monkeypatch puts them back after the test.
    monkeypatch.setattr(notification_services, "messages_created", notification_services.messages_created)
    monkeypatch.setattr(bench_sync, "RESULTS", {})
    real_reserve = message_services.changes_reserve
    bench_sync.write_cost(rounds=2)
    assert message_services.changes_reserve is real_reserve
    assert set(bench_sync.RESULTS) == {"write_batch_1", "write_batch_10", "write_batch_50"}
    assert ChatMessage.objects.count() == 2 * 2 * (1 + 10 + 50)  # both ways, every round, every size
