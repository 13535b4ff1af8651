"""Who may connect to the embedded amqtt broker, and what each identity may publish, subscribe to and receive.

The embedded broker (``manage.py mqtt_broker``, ``make run``) enforces the same rule as the project's Mosquitto:

* no anonymous client: the backend connects with MQTT_URL's user and password (the embedded default derives the
  secret from DJANGO_SECRET_KEY); every device and reader with the credentials the backend issued
  (labs/mqtt_credentials.py), checked against the stored hash at every connect, under its own id as client id;
* a device publishes only to its own ``ack``/``reported``/``telemetry``/``status`` (readers: ``scan``, ``status``),
  subscribes to and receives only its own ``desired`` (readers: ``decision``), and may leave a Last Will only on a
  topic it may publish to (``labs.topics.Identity``); the backend may do anything.

amqtt 0.12.1 merges a CONNECT into the stored session of its client id, taking over a live connection, *before* it
authenticates. With that order a client without credentials could kick a device off and rewrite its session's Last
Will (an unchecked publish, retained if it likes). :class:`LabsBroker` therefore authenticates the CONNECT as it
arrives, before it may touch any session, and caps every packet's size (MQTT_PAYLOAD_MAX_BYTES plus the headers),
closing the connection of a client that sends more.

Two more amqtt 0.12.1 faults, found at `make run`'s cold start:

* every session that connects is sent the retained messages of every topic filter in the broker's table, that is of
  everyone's subscriptions (the backend's ``labs/v1/+/+/+/reported`` included): a device got the other devices'
  retained ``reported`` and ``desired``, past the topic rule. :class:`LabsBroker` serves retained messages only for a
  filter the session itself holds.
* it walks that table while it awaits (sending those messages, fanning out a publish); another client subscribing
  meanwhile changed the table's size and killed the connecting session's handler after its CONNACK ("dictionary
  changed size during iteration": 38 to 97 such errors at a start of 72 devices, each device then deaf until its
  keepalive ran out). The table iterates over snapshots.
"""

from __future__ import annotations

import asyncio
import logging

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import MQTTError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.utils import format_client_message, gen_client_id
from django.conf import settings
from django.utils.crypto import constant_time_compare

from labs import topics

logger = logging.getLogger(__name__)

BACKEND = "backend"  # the session attribute value of the backend's connections
HEADER_ALLOWANCE = 4096  # a packet's topic and headers on top of its payload
CREDENTIAL_CHECK_S = 2.0  # how often the connected devices' credentials are checked for rotation or revocation


def _on_db_thread(function, **kwargs):
    """``function`` on a worker thread's own database connection (the ORM is synchronous), closed after use."""
    from django.db import close_old_connections, connections

    close_old_connections()
    try:
        return function(**kwargs)
    finally:
        connections.close_all()


async def identify(session) -> topics.Identity | str | None:
    """The session's identity (``BACKEND`` or a device's), or None: no anonymous client, no wrong password."""
    username, password = session.username, session.password
    if not username or not password:
        return None
    from labs.mqtt import parse_url

    backend = parse_url(settings.MQTT_URL)
    if backend.username and username == backend.username:
        return BACKEND if constant_time_compare(password, backend.password or "") else None
    from labs.mqtt_credentials import mqtt_credential_check

    identity, secret = await asyncio.to_thread(
        _on_db_thread, mqtt_credential_check, username=username, password=password
    )
    session.labs_secret = secret
    if identity is None or session.client_id != username:
        return None  # a device connects under its own id only: no taking over another device's session
    if session.will_flag and not identity.may_publish(session.will_topic or ""):
        return None  # a Last Will is a publication: only on the device's own topics
    return identity


class LabsAuthPlugin(BaseAuthPlugin):
    """amqtt authentication: the backend's secret or an issued device credential (see the module docstring)."""

    async def authenticate(self, *, session) -> bool:
        identity = await identify(session)
        session.labs_identity = identity
        if identity is None:
            logger.warning(
                "embedded broker refused %s (user %r)", format_client_message(session=session), session.username
            )
        return identity is not None


class LabsTopicPlugin(BaseTopicPlugin):
    """amqtt topic check: a device publishes, subscribes to and receives only its own topics."""

    async def topic_filtering(self, *, session=None, topic=None, action=None) -> bool:
        identity = getattr(session, "labs_identity", None) if session is not None else None
        if identity == BACKEND:
            return True
        if not isinstance(identity, topics.Identity) or not topic:
            return False
        if action == Action.PUBLISH:
            allowed = identity.may_publish(topic)
        else:  # SUBSCRIBE and RECEIVE
            allowed = identity.may_subscribe(topic)
        if not allowed and action != Action.RECEIVE:
            logger.warning("embedded broker refused %s %s on %s", identity.device_id, action, topic)
        return allowed


class _BoundedReader(StreamReaderAdapter):
    """Refuses to read a packet body longer than the limit: the connection ends instead of buffering it.

    Once refused, it reads nothing more: amqtt takes the refusal for a short read and goes on to the next packet,
    which would otherwise be parsed out of the refused packet's own body (a device could smuggle packets inside
    one, or flood the log with the garbage it parses). The next read finds no data, and amqtt ends the
    connection."""

    def __init__(self, reader, limit: int) -> None:
        super().__init__(reader)
        self.limit = limit
        self.refused = False

    async def read(self, n: int = -1) -> bytes:
        if self.refused:
            raise asyncio.IncompleteReadError(b"", n)
        if n > self.limit:
            self.refused = True
            logger.warning("embedded broker closed a connection that sent a %d-byte packet", n)
            raise asyncio.IncompleteReadError(b"", n)
        return await super().read(n)


class _Snapshots(dict):
    """A dict whose iterations are copies: amqtt awaits inside loops over its subscription table while other
    sessions subscribe and unsubscribe (module docstring)."""

    def __iter__(self):
        return iter(list(dict.keys(self)))

    def keys(self):
        return list(dict.keys(self))

    def values(self):
        return list(dict.values(self))

    def items(self):
        return list(dict.items(self))


class LabsBroker(Broker):
    """amqtt's broker with authentication before any session is touched, a packet size limit, retained messages only
    for the session's own subscriptions and a subscription table that tolerates changes while it is walked."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._subscriptions = _Snapshots(self._subscriptions)

    async def _publish_retained_messages_for_subscription(self, subscription, session) -> None:
        # amqtt calls this at every connect for every filter in its table, whoever holds it: serve only the
        # session's own filters (a SUBSCRIBE that was refused is not in the table either).
        topic_filter = subscription[0]
        if any(held.client_id == session.client_id for held, _qos in self._subscriptions.get(topic_filter, ())):
            await super()._publish_retained_messages_for_subscription(subscription, session)

    async def start(self) -> None:
        await super().start()
        self._sweeper = asyncio.get_running_loop().create_task(self._end_rotated_sessions())

    async def shutdown(self) -> None:
        sweeper = getattr(self, "_sweeper", None)
        if sweeper is not None:
            sweeper.cancel()
        await super().shutdown()

    async def _end_rotated_sessions(self) -> None:
        """Mosquitto kicks a device whose credentials are rotated or revoked; amqtt checks them only at connect.
        Every ``CREDENTIAL_CHECK_S`` the stored hashes of the connected devices are read again (one query), and a
        device whose password is no longer the one it signed in with is disconnected: the old password stops
        working at once on the embedded broker too (contracts/API.md)."""
        while True:
            await asyncio.sleep(CREDENTIAL_CHECK_S)
            try:
                connected = [
                    (session, handler)
                    for session, handler in list(self._sessions.values())
                    if getattr(session, "labs_secret", "") and session.transitions.is_connected()
                ]
                if not connected:
                    continue
                from labs.mqtt_credentials import mqtt_credential_secrets

                usernames = sorted({s.username for s, _ in connected})
                current = await asyncio.to_thread(_on_db_thread, mqtt_credential_secrets, usernames=usernames)
                for session, handler in connected:
                    if current.get(session.username) != session.labs_secret:
                        logger.warning(
                            "embedded broker ended %s: its credentials were rotated or revoked", session.client_id
                        )
                        session.labs_secret = ""
                        await handler.handle_connection_closed()
                        await handler.stop()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("embedded broker could not check the connected devices' credentials")

    async def stream_connected(self, reader, writer, listener_name: str) -> None:
        limit = settings.MQTT_PAYLOAD_MAX_BYTES + HEADER_ALLOWANCE
        await self._client_connected(listener_name, _BoundedReader(reader, limit), StreamWriterAdapter(writer))

    async def _initialize_client_session(self, reader, writer, remote_address, remote_port):
        # amqtt 0.12.1's method, with the authentication moved before the session lookup.
        handler, client_session = await BrokerProtocolHandler.init_from_connect(reader, writer, self.plugins_manager)
        if not await self._authenticate(client_session, None):
            await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await writer.close()
            raise MQTTError(f"{format_client_message(address=remote_address, port=remote_port)}: not authorised")
        if client_session.clean_session:
            if client_session.client_id is not None and client_session.client_id != "":
                await self._delete_session(client_session.client_id)
            else:
                client_session.client_id = gen_client_id()
            client_session.parent = 0
        elif client_session.client_id in self._sessions:
            existing, _ = self._sessions[client_session.client_id]
            for name in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive", "username", "password"):
                setattr(existing, name, getattr(client_session, name))
            existing.will_retain = client_session.will_retain
            existing.labs_identity = client_session.labs_identity
            existing.labs_secret = getattr(client_session, "labs_secret", "")
            client_session = existing
            client_session.parent = 1
        else:
            client_session.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if client_session.keep_alive > 0 and isinstance(delay, int):
            client_session.keep_alive += delay
        return handler, client_session


def broker_config(*, host: str, port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}},
        "timeout_disconnect_delay": 0,
        "plugins": {
            "labs.mqtt_broker_auth.LabsAuthPlugin": {},
            "labs.mqtt_broker_auth.LabsTopicPlugin": {},
        },
    }
