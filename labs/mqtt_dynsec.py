"""Mosquitto's dynamic-security plugin, driven by the backend: device identities in, out and rotated at runtime.

The project's Mosquitto loads ``mosquitto_dynamic_security.so`` (mosquitto.conf). Its file is created with the
backend's account (``scripts/mosquitto-dynsec-init.py``): a dynsec admin that may also read and write the whole
``labs/v1`` tree. Everything else goes through the plugin's control topic, ``$CONTROL/dynamic-security/v1``, on a
short-lived connection with the backend's credentials from ``MQTT_URL``: the broker checks the commands, applies
them, saves its file and answers on ``.../response``.

Mosquitto 2.0's dynamic security has no ``%u``/``%c`` substitution in ACLs, so each identity gets its own role whose
ACLs name its literal topics (``labs.topics.Identity``): a device may publish only to its own leaves, subscribe to and
receive only its own ``desired``. Issuing or rotating replaces the client and its role in one control message;
deleting a client kicks its connection, so a rotated password stops working at once.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading

from labs.topics import Identity

logger = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
TIMEOUT_S = 5.0


class DynsecError(Exception):
    """The broker could not be reached, did not answer in time, or refused a command."""


def role_name(username: str) -> str:
    return f"identity-{username}"


def identity_acls(identity: Identity) -> list[dict]:
    """The role's ACLs: its own publish topics, its own subscription (literal, no wildcard) and what it may receive."""
    acls = [{"acltype": "publishClientSend", "topic": t, "allow": True} for t in identity.publish_topics()]
    for subscription in identity.subscribe_topics():
        acls.append({"acltype": "subscribeLiteral", "topic": subscription, "allow": True})
        acls.append({"acltype": "publishClientReceive", "topic": subscription, "allow": True})
    return acls


def identity_commands(identity: Identity, password: str) -> list[dict]:
    """Replace the identity's client and role: the old client is deleted (and its connection kicked) first."""
    username, role = identity.device_id, role_name(identity.device_id)
    return [
        *revoke_commands(username),
        {"command": "createRole", "rolename": role, "acls": identity_acls(identity)},
        {
            "command": "createClient",
            "username": username,
            "password": password,
            "clientid": username,  # the broker refuses this username under any other client id
            "roles": [{"rolename": role}],
        },
    ]


def revoke_commands(username: str) -> list[dict]:
    return [
        {"command": "deleteClient", "username": username},
        {"command": "deleteRole", "rolename": role_name(username)},
    ]


# Errors that mean "already gone": expected when a delete prepares a fresh create.
_HARMLESS = {("deleteClient", "Client not found"), ("deleteRole", "Role not found")}


def send(commands: list[dict], *, url: str | None = None, timeout: float = TIMEOUT_S) -> list[dict]:
    """Send ``commands`` in one control message with the backend's credentials and wait for every answer.

    Raises :class:`DynsecError` when the broker is unreachable, refuses the backend, does not answer within
    ``timeout``, or refuses a command (other than deleting what does not exist)."""
    from labs import mqtt

    batch = secrets.token_hex(8)
    tagged = [{**command, "correlationData": f"{batch}-{n}"} for n, command in enumerate(commands)]
    expected = {command["correlationData"] for command in tagged}
    answers: dict[str, dict] = {}
    done = threading.Event()
    subscribed = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            client.subscribe(RESPONSE_TOPIC, qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        subscribed.set()

    def on_message(client, userdata, message):
        try:
            responses = json.loads(message.payload).get("responses", [])
        except (ValueError, AttributeError):
            return
        for response in responses:
            key = response.get("correlationData") if isinstance(response, dict) else None
            if key in expected:
                answers[key] = response
        if expected <= answers.keys():
            done.set()

    client = mqtt.create_client(role=f"dynsec-{batch}", url=url)
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_connect = on_connect
    try:
        if not mqtt.connect(client, url=url, timeout=timeout) or not subscribed.wait(timeout):
            raise DynsecError(f"the broker {mqtt.parse_url(url)} did not accept the backend's dynsec connection")
        client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        if not done.wait(timeout):
            raise DynsecError("the broker did not answer the dynamic-security commands in time")
    finally:
        client.disconnect()
        client.loop_stop()
    ordered = [answers[command["correlationData"]] for command in tagged]
    failures = [
        f"{answer.get('command')}: {answer['error']}"
        for answer in ordered
        if answer.get("error") and (answer.get("command"), answer.get("error")) not in _HARMLESS
    ]
    if failures:
        raise DynsecError("; ".join(failures))
    return ordered


def provision(identity: Identity, password: str, *, url: str | None = None) -> None:
    send(identity_commands(identity, password), url=url)


def revoke(username: str, *, url: str | None = None) -> None:
    send(revoke_commands(username), url=url)


def _init_script():
    """scripts/mosquitto-dynsec-init.py (standard library only, run before the project's venv exists), whose
    ``password_entry`` is Mosquitto's password format: one definition for both."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "mosquitto-dynsec-init.py"
    spec = importlib.util.spec_from_file_location("mosquitto_dynsec_init", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_offline(path, issued: list[tuple[Identity, str]]) -> None:
    """Put identities straight into the dynamic-security file of a **stopped** Mosquitto (created by
    scripts/mosquitto-dynsec-init.py), replacing any of the same name; the broker reads them when it starts.

    For onboarding thousands of devices at once: the plugin rewrites its whole file after every control command, so
    issuing N identities through the control topic costs O(N²) (measured here: 50 identities in 1.7 s once 1,500 are
    in the file; 10,000 would take over ten minutes). Mosquitto must not be running: it would overwrite the file."""
    import json as _json
    from pathlib import Path

    path = Path(path)
    password_entry = _init_script().password_entry
    config = _json.loads(path.read_text())
    names = {identity.device_id for identity, _ in issued}
    roles = {role_name(name) for name in names}
    config["clients"] = [c for c in config.get("clients", []) if c.get("username") not in names]
    config["roles"] = [r for r in config.get("roles", []) if r.get("rolename") not in roles]
    for identity, password in issued:
        username, role = identity.device_id, role_name(identity.device_id)
        config["roles"].append({"rolename": role, "acls": identity_acls(identity)})
        config["clients"].append(
            {"username": username, "clientid": username, **password_entry(password), "roles": [{"rolename": role}]}
        )
    temporary = path.with_name(path.name + ".tmp")
    stat = path.stat()
    temporary.write_text(_json.dumps(config))
    temporary.chmod(stat.st_mode & 0o777)
    if os.geteuid() == 0:  # started as root, Mosquitto reads it as its own user: keep the file's owner
        os.chown(temporary, stat.st_uid, stat.st_gid)
    temporary.replace(path)
