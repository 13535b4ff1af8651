"""Badge jobs: notifications after commit and periodic sweeps (Celery beat, registered in BadgesConfig.ready()).

Each takes ids, calls one service and is idempotent.
"""

from __future__ import annotations

from celery import shared_task

from badges import services


@shared_task(
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    reject_on_worker_lost=True,
)
def visit_host_notify(visit_id: int) -> bool:
    return services.visit_host_notify(visit_id=visit_id)


@shared_task(
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    reject_on_worker_lost=True,
)
def visit_badge_send(visit_id: int) -> bool:
    return services.visit_badge_send(visit_id=visit_id)


@shared_task(ignore_result=True)
def badges_sweep() -> dict:
    return {
        "expired": services.badges_expire_due(),
        "memberships_ended": services.badges_revoke_ended_memberships(),
        "code_uses_purged": services.badge_code_uses_purge(),
        "notifications_sent": services.visits_notify_pending(),
    }
