"""Celery tasks of bookings: each takes ids, calls one service and is safe to run twice."""

from celery import shared_task

from bookings import services


@shared_task
def release_no_shows() -> int:
    """Beat task: release bookings not checked in within their site's grace period."""
    return len(services.bookings_release_no_shows())


@shared_task
def complete_ended() -> int:
    """Beat task: checked-in bookings whose end passed are completed (their desks return to their defaults)."""
    return len(services.bookings_complete_ended())


@shared_task(acks_late=True, reject_on_worker_lost=True)
def series_ended_notify(series_id: int) -> bool:
    return services.series_ended_notify(series_id=series_id)
