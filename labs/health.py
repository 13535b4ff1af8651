"""Health checks of the services the backend depends on: database, Celery broker, MQTT broker."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        result = {"status": "ok"}
        if detail:
            result["detail"] = detail
    except Exception as exc:  # noqa: BLE001 - a health check reports any failure as data
        result = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (in-process)"
    if url.startswith("filesystem"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder.parent / ".health"
        probe.write_text("ok")
        return "filesystem"
    if url.startswith(("redis", "rediss")):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
        return "redis"
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port or 5672), timeout=1):
        pass
    return parts.scheme


def check_mqtt() -> str:
    """Open a TCP connection and complete an MQTT CONNECT/CONNACK handshake (MQTT 3.1.1, clean session)."""
    parts = urlsplit(settings.MQTT_URL)
    with socket.create_connection((parts.hostname, parts.port or 1883), timeout=1) as sock:
        sock.settimeout(1)
        client_id = b"labs-health"
        variable = b"\x00\x04MQTT\x04\x02\x00\x05"  # protocol, level 4, clean session, keepalive 5 s
        flags_user = 0
        payload = len(client_id).to_bytes(2, "big") + client_id
        if parts.username:
            flags_user |= 0x80
            user = parts.username.encode()
            payload += len(user).to_bytes(2, "big") + user
        if parts.password:
            flags_user |= 0x40
            password = parts.password.encode()
            payload += len(password).to_bytes(2, "big") + password
        variable = variable[:7] + bytes([0x02 | flags_user]) + variable[8:]
        body = variable + payload
        sock.sendall(bytes([0x10, len(body)]) + body)
        answer = sock.recv(4)
        if len(answer) < 4 or answer[0] != 0x20:
            raise ConnectionError("no CONNACK")
        if answer[3] != 0:
            raise ConnectionError(f"CONNACK refused with code {answer[3]}")
        sock.sendall(b"\xe0\x00")  # DISCONNECT
    return f"{parts.hostname}:{parts.port or 1883}" + (" (embedded)" if settings.MQTT_EMBEDDED else "")


def health_report() -> tuple[bool, dict]:
    checks = {"database": _timed(check_database), "broker": _timed(check_broker), "mqtt": _timed(check_mqtt)}
    return all(c["status"] == "ok" for c in checks.values()), checks
