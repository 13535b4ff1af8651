"""An access decision taken over MQTT is a durable commit, although the bridge's connection commits asynchronously.

The bridge sets ``synchronous_commit = off`` for its connection (device state is re-derived from retained messages
after a crash); ``badges.services.access_decide`` sets it back on for its own transaction. This reads the setting from
inside the very transaction that writes the audit row, on the bridge's path (labs.mqtt_bridge -> router -> handler).
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models.signals import post_save

from badges import selectors
from badges.models import AccessDecision
from labs.mqtt_bridge import Bridge
from tests.badges.conftest import issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


class _Published:
    def __init__(self) -> None:
        self.messages = []

    def publish(self, topic, payload, qos=0, retain=False):
        self.messages.append((topic, json.loads(payload)))


def _setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_an_mqtt_access_decision_commits_with_synchronous_commit_on(staff, member, main_reader):
    code = selectors.badge_current_code(badge=issue(staff, member))
    seen = []

    def inside_the_decisions_transaction(sender, instance, created, **kwargs):
        seen.append((connection.in_atomic_block, _setting()))

    bridge = Bridge()
    bridge.client = _Published()
    scan = {"scan_id": "cph-main-000001", "credential": {"type": "qr", "value": code}}
    post_save.connect(inside_the_decisions_transaction, sender=AccessDecision)
    try:
        bridge._handle_batch([("labs/v1/cph/reader/cph-main/scan", json.dumps(scan).encode())])
    finally:
        post_save.disconnect(inside_the_decisions_transaction, sender=AccessDecision)

    assert _setting() == "off"  # the bridge's own connection: asynchronous commits for device state
    assert seen == [(True, "on")]  # ...but the audit row's transaction waits for the WAL flush
    assert AccessDecision.objects.get().allow is True
    assert bridge.client.messages[0][1]["allow"] is True
