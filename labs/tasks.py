from celery import shared_task

from labs import services


@shared_task
def sign_in_counters_purge() -> int:
    return services.sign_in_counters_purge()


@shared_task
def outbox_purge() -> int:
    from labs.outbox import outbox_purge as purge

    return purge()
