"""labs.files.write_atomically: a reader never sees a half-written file."""

from __future__ import annotations

import json
import stat
import threading

from django.conf import settings

from labs.files import write_atomically


def test_a_reader_sees_the_old_file_or_the_new_never_a_truncated_one(tmp_path):
    """The failure it replaces: demo_site rewrote the Google fake's tenant in place (truncate, then write) while
    another process read it, which got '' and failed with JSONDecodeError."""
    path = tmp_path / "tenant.json"
    documents = [json.dumps({"version": n, "rooms": ["room"] * 20_000}) for n in range(2)]
    write_atomically(path, documents[0])
    stop = threading.Event()
    bad: list[str] = []

    def read() -> None:
        while not stop.is_set():
            text = path.read_text()
            try:
                json.loads(text)
            except ValueError:
                bad.append(text[:40])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(300):
            write_atomically(path, documents[n % 2])
    finally:
        stop.set()
        reader.join()
    assert bad == []
    assert json.loads(path.read_text())["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["tenant.json"]  # no temporary file left behind


def test_a_private_file_is_the_owners_alone(tmp_path):
    write_atomically(tmp_path / "key.json", b"{}", private=True)
    write_atomically(tmp_path / "tenant.json", "{}")
    assert stat.S_IMODE((tmp_path / "key.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tenant.json").stat().st_mode) == 0o644


def test_tests_write_run_time_files_outside_the_checkout():
    assert not settings.VAR_DIR.resolve().is_relative_to(settings.BASE_DIR.resolve())
