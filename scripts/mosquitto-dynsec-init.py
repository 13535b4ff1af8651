#!/usr/bin/env python3
"""Create or update Mosquitto's dynamic-security file with the backend's account (standard library only).

    MQTT_BACKEND_PASSWORD=... python3 scripts/mosquitto-dynsec-init.py DATA/dynamic-security.json [USERNAME]

The backend (default username ``backend``) is the plugin's admin, the only account that may publish ``desired`` and
``decision``, and reads the whole ``labs/v1`` tree (also through ``$share/...`` shared subscriptions). Every other
client is a device or reader identity the backend creates at runtime (labs/mqtt_dynsec.py): they are kept as they
are when the file already exists, so a restart keeps the issued credentials; only the backend's password and role are
rewritten. Run it while the broker is stopped (the broker rewrites the file on every change). Anonymous clients get
nothing: mosquitto.conf sets ``allow_anonymous false`` and no anonymous group is defined here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

ITERATIONS = 101  # Mosquitto 2.0's PW_DEFAULT_ITERATIONS: PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte hash
ROLE = "labs-backend"
TREES = ("labs/v1/#", "$CONTROL/dynamic-security/#")
SHARED = "$share/+/labs/v1/#"


def password_entry(password: str) -> dict:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
    }


def backend_role() -> dict:
    acls = []
    for tree in TREES:
        acls += [
            {"acltype": "publishClientSend", "topic": tree, "allow": True},
            {"acltype": "publishClientReceive", "topic": tree, "allow": True},
            {"acltype": "subscribePattern", "topic": tree, "allow": True},
        ]
    acls.append({"acltype": "subscribePattern", "topic": SHARED, "allow": True})
    acls.append({"acltype": "unsubscribePattern", "topic": "#", "allow": True})
    return {"rolename": ROLE, "textname": "The labs backend: dynsec admin and the labs/v1 tree", "acls": acls}


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path, username = Path(argv[1]), argv[2] if len(argv) == 3 else "backend"
    password = os.environ.get("MQTT_BACKEND_PASSWORD", "")
    if not password:
        print("mosquitto-dynsec-init: set MQTT_BACKEND_PASSWORD (the backend's MQTT secret)", file=sys.stderr)
        return 2
    config = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
    clients = [c for c in config.get("clients", []) if c.get("username") != username]
    roles = [r for r in config.get("roles", []) if r.get("rolename") != ROLE]
    clients.append(
        {
            "username": username,
            "textname": "The labs backend",
            **password_entry(password),
            "roles": [{"rolename": ROLE}],
        }
    )
    roles.append(backend_role())
    config.update(
        clients=clients,
        roles=roles,
        groups=config.get("groups", []),
        # Nothing is allowed unless a role allows it; unsubscribing harms no one.
        defaultACLAccess={
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(config, indent=1))
    temporary.chmod(0o600)
    temporary.replace(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
