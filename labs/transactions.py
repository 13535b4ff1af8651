"""After-commit side effects, in one place.

A service never sends, publishes or enqueues before its transaction commits: it asks :func:`after_commit` to run a
function, or :func:`enqueue_after_commit` to queue a Celery task, once the outermost transaction commits (at once
when there is none). A failure there is logged, never raised into a change that has already committed; the periodic
sweeps that own each kind of work (visits' notifications, the outbox, comfort's reconcile) pick up what was missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)


def after_commit(function: Callable[..., object], *args, **kwargs) -> None:
    """Run ``function(*args, **kwargs)`` after the current transaction commits; log (never raise) its failure."""

    def run() -> None:
        try:
            function(*args, **kwargs)
        except Exception:
            logger.exception("after-commit %s failed", getattr(function, "__qualname__", function))

    transaction.on_commit(run)


def enqueue_after_commit(task, *args, **kwargs) -> None:
    """Queue the Celery ``task`` with ids (never model instances) once the transaction commits. A broker outage is
    logged; the task's periodic sweep does what was not queued."""

    def enqueue() -> None:
        try:
            task.delay(*args, **kwargs)
        except Exception:
            logger.exception("could not enqueue %s%r; its sweep will retry", getattr(task, "name", task), args)

    transaction.on_commit(enqueue)
