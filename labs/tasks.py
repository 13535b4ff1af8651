from celery import shared_task

from labs import services


@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def person_welcome_send(person_id: int) -> bool:
    return services.person_welcome_send(person_id=person_id)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def retention_purge() -> dict:
    """Every declaration's retention, enforced by the purges each app registered (labs.rights); idempotent."""
    from labs.services_privacy import retention_purge as purge

    return purge()


@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def password_reset_send(user_id: int) -> bool:
    from labs.services_accounts import password_reset_send as send

    return send(user_id=user_id)
