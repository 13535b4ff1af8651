"""Celery tasks of analytics: each takes ids, calls one service and is safe to run twice."""

from celery import shared_task

from analytics import services


@shared_task
def run_execute(run_id: int) -> str | None:
    run = services.run_execute(run_id=run_id)
    return run.state if run else None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def nightly() -> int:
    """Beat task: every site's last 12 weeks, recomputing only the days whose bookings changed."""
    return len(services.runs_nightly())


@shared_task(acks_late=True, reject_on_worker_lost=True)
def runs_sweep() -> list[int]:
    """Beat task: runs stuck queued are sent again, runs whose worker ended are marked failed."""
    return list(services.runs_sweep())


@shared_task(acks_late=True, reject_on_worker_lost=True)
def runs_purge() -> int:
    return services.runs_purge()
