"""How often a busy bridge claims from the outbox: again at once while the outbox gives messages, and after a claim
that found none, not before ``poll_s`` has passed (not after every batch of device messages)."""

from __future__ import annotations

import time

import pytest

from labs import outbox
from labs.mqtt_bridge import Bridge

pytestmark = pytest.mark.django_db

ACK = "labs/v1/cph/desk/d1/ack"


@pytest.fixture
def busy_bridge(monkeypatch):
    """A connected bridge (no broker) whose every step has a batch to handle, and whose drains answer from a list."""
    answers: list[int] = []
    drains: list[float] = []

    def drain(**kwargs):
        drains.append(time.monotonic())
        return answers.pop(0) if answers else 0

    monkeypatch.setattr(outbox, "outbox_drain", drain)

    def make(poll_s: float) -> tuple[Bridge, list[int], list[float]]:
        bridge = Bridge(poll_s=poll_s)
        bridge.connected.set()
        monkeypatch.setattr(bridge, "_handle_batch", lambda batch: None)
        return bridge, answers, drains

    return make


def busy_step(bridge: Bridge) -> None:
    bridge.inbox.put((ACK, b"{}"))
    bridge.step()


def test_after_a_drain_that_found_nothing_batches_go_on_without_claiming(busy_bridge):
    bridge, answers, drains = busy_bridge(poll_s=30)
    answers += [0]
    for _ in range(5):
        busy_step(bridge)
    assert len(drains) == 1


def test_while_the_outbox_gives_messages_every_step_drains_again(busy_bridge):
    bridge, answers, drains = busy_bridge(poll_s=30)
    answers += [2000, 2000, 7, 0]
    for _ in range(6):
        busy_step(bridge)
    assert len(drains) == 4  # three that published, one that found nothing; then quiet
    assert bridge.published == 4007


def test_once_poll_s_has_passed_an_empty_outbox_is_asked_again(busy_bridge):
    bridge, answers, drains = busy_bridge(poll_s=0.05)
    busy_step(bridge)
    busy_step(bridge)
    assert len(drains) == 1
    time.sleep(0.06)
    busy_step(bridge)
    assert len(drains) == 2
