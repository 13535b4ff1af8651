"""Several bridges drain one outbox: row claims (SELECT ... FOR UPDATE SKIP LOCKED) on PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from labs import outbox
from labs.models import OutboxMessage
from labs.topics import Publish

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _no_nudge(settings):
    """The rows stay for the claimers (with a broker around, the committing process would publish them itself)."""
    settings.MQTT_OUTBOX_NUDGE = False


def _claim_in_thread(claimed: list, hold: threading.Event, ready: threading.Event, limit: int) -> threading.Thread:
    def run():
        try:
            with transaction.atomic():
                claimed.extend(m.pk for m in outbox.outbox_claim(limit=limit))
                ready.set()
                hold.wait(10)  # keep the claim (the transaction) open, as a bridge does while it publishes
        finally:
            ready.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_claimers_never_claim_the_same_outbox_row():
    outbox.outbox_enqueue_many(Publish(f"labs/v1/cph/desk/d{i}/desired", {"v": 1}) for i in range(40))
    first, second = [], []
    hold = threading.Event()
    first_ready, second_ready = threading.Event(), threading.Event()
    a = _claim_in_thread(first, hold, first_ready, limit=25)
    assert first_ready.wait(10)
    b = _claim_in_thread(second, hold, second_ready, limit=25)
    assert second_ready.wait(10)
    hold.set()
    a.join(10)
    b.join(10)

    assert len(first) == 25 and len(second) == 15
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(OutboxMessage.objects.values_list("pk", flat=True))


def test_a_topic_whose_older_row_is_claimed_elsewhere_waits_so_its_order_holds():
    a_rows = outbox.outbox_enqueue_many(Publish("labs/v1/cph/desk/a/desired", {"v": v}) for v in (1, 2, 3))
    b_row = outbox.outbox_enqueue(Publish("labs/v1/cph/desk/b/desired", {"v": 1}))
    first, second = [], []
    hold = threading.Event()
    first_ready, second_ready = threading.Event(), threading.Event()
    a = _claim_in_thread(first, hold, first_ready, limit=1)  # holds a's v1
    assert first_ready.wait(10)
    b = _claim_in_thread(second, hold, second_ready, limit=100)
    assert second_ready.wait(10)
    hold.set()
    a.join(10)
    b.join(10)

    assert first == [a_rows[0].pk]
    assert second == [b_row.pk]  # a's v2 and v3 wait until v1 is published: never v3 before v1


def test_two_bridges_draining_at_once_publish_each_row_once():
    rows = outbox.outbox_enqueue_many(Publish(f"labs/v1/cph/desk/d{i % 7}/desired", {"v": i}) for i in range(300))
    published: list[int] = []
    lock = threading.Lock()

    class FakeClient:  # acknowledges at once, records what it was asked to publish
        def publish(self, topic, payload, qos=1, retain=False):
            import json

            with lock:
                published.append(json.loads(payload)["v"])

            class Info:
                rc = 0

                def wait_for_publish(self, timeout=None):
                    return None

                def is_published(self):
                    return True

            return Info()

    def drain():
        # Like a bridge, each drainer goes round until nothing is left: a round can come back empty while another
        # drainer holds the older rows of every topic (or has just let them go), and the next round picks up.
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                if not outbox.outbox_drain(client=FakeClient(), limit=20):
                    if not OutboxMessage.objects.filter(sent_at__isnull=True).exists():
                        return
                    time.sleep(0.005)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(published) == list(range(300))  # every row once, none twice
    for topic in range(7):  # and each topic's rows in the order they were written
        sent = [v for v in published if v % 7 == topic]
        assert sent == sorted(sent)
    assert not OutboxMessage.objects.filter(pk__in=[r.pk for r in rows], sent_at__isnull=True).exists()
