"""Settings of the Python runtime for the long-lived processes (web workers, Celery's pool processes, the MQTT bridge).

The garbage collector's full collections walk every container object alive: a Django process holds ~160,000 of them
once its modules, models, URL patterns and settings are loaded, and on this machine class a full collection of them
takes ~150 ms. It runs every few thousand allocations' worth of surviving objects, so one request or one bridge batch
in so many pays for it. Measured in a test process on PostgreSQL (2026-11-30): of 300 API booking creates the slowest
took 174-192 ms against a p99 of 21-24 ms, 24-26 ms with the objects frozen; 14 bridge batches of 1,000 acks and
reports cost 200-480 ms of CPU each (profiled), 180-260 ms frozen. The HTTP bench's p99 under 8 clients is queueing
at saturation and did not move. A fan-out to 10,000 devices (2026-12-01, ``gc.callbacks``) spent 0.72-0.79 s of its
~3 s in collections, 0.58-0.67 s of it in full ones; 0.26-0.37 s with the process's startup objects frozen.

:func:`freeze_startup_objects` moves what is alive once the process has started into the collector's permanent
generation (``gc.freeze``, Python's own advice for long-lived servers): collections then walk only what was allocated
since. Those objects are never freed, which they would not be anyway; cycles made later are still collected.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect once, then leave everything alive now out of later collections. Returns how many objects that was.
    Call it when the process has loaded what it will keep (its app, its URL patterns), before serving."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
