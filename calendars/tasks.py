"""Celery tasks of calendars: thin, idempotent, each calling one service. One sync per calendar runs at a time (the
sync claims its calendar); a rate-limited or failing sync is retried with backoff from where its token stood."""

from __future__ import annotations

import logging
import random

from celery import shared_task

from calendars import services
from calendars.providers.base import ProviderError, RateLimited

logger = logging.getLogger(__name__)

MAX_RETRIES = 8


def backoff(retries: int) -> float:
    """Exponential backoff with jitter: about 10 s, 20 s, 40 s ... capped at 30 minutes."""
    return min(1800.0, 10.0 * 2**retries) * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


@shared_task(bind=True, max_retries=MAX_RETRIES, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def calendar_sync(self, calendar_id: int, full: bool = False) -> None:
    try:
        services.calendar_sync_run(calendar_id=calendar_id, full=full)
    except RateLimited as exc:
        if self.request.is_eager:
            return  # eager (tests, a bare machine): recorded in the health; the reconcile runs it again
        raise self.retry(countdown=max(exc.retry_after, 1.0) + random.random(), exc=exc) from None  # noqa: S311
    except ProviderError as exc:
        if not exc.retryable or self.request.is_eager:
            return  # recorded in the calendar's health; the periodic reconcile tries again
        raise self.retry(countdown=backoff(self.request.retries), exc=exc) from None


@shared_task(ignore_result=True)
def calendars_reconcile() -> int:
    return services.calendars_reconcile()


@shared_task(ignore_result=True)
def watches_renew() -> int:
    return services.watches_renew()


@shared_task(bind=True, max_retries=MAX_RETRIES, ignore_result=True)
def personal_sync(self, calendar_id: int) -> None:
    """One sync of a person's own calendar; each person's is its own task, so one failing never stops another."""
    from calendars import personal

    try:
        personal.personal_sync(calendar_id=calendar_id)
    except ProviderError as exc:
        if self.request.is_eager:
            return  # recorded on the connection; the periodic reconcile runs it again
        raise self.retry(countdown=backoff(self.request.retries), exc=exc) from None


@shared_task(ignore_result=True)
def personal_reconcile() -> int:
    from calendars import personal

    return personal.personal_reconcile()
