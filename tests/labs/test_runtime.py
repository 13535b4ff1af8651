"""The long-lived processes keep their startup objects out of the garbage collector's full collections
(labs/runtime.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from labs.runtime import freeze_startup_objects


def test_freezing_moves_what_is_alive_out_of_the_collected_generations():
    kept = [[] for _ in range(3)]
    gc.collect()  # survivors land in the oldest generation, which every full collection walks
    assert any(o is kept[0] for o in gc.get_objects(generation=2))
    before = gc.get_freeze_count()
    try:
        assert freeze_startup_objects() > before
        assert not any(o is kept[0] for o in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()


def test_a_web_worker_loads_its_url_patterns_and_freezes_on_import():
    code = (
        "import gc, sys; import labs.wsgi;"
        "print(gc.get_freeze_count(), 'bookings.api.views' in sys.modules, 'portal.views' in sys.modules)"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "labs.settings"},
    ).stdout.split()
    assert int(out[0]) > 50_000 and out[1:] == ["True", "True"]


def test_a_celery_pool_process_freezes_once_forked():
    from celery.signals import worker_process_init

    import labs.celery  # noqa: F401 - connects the handler

    gc.unfreeze()
    try:
        worker_process_init.send(sender=None)  # what the prefork pool sends in each child it starts
        assert gc.get_freeze_count() > 50_000
    finally:
        gc.unfreeze()
