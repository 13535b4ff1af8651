from celery import shared_task

from labs import services


@shared_task
def sign_in_counters_purge() -> int:
    return services.sign_in_counters_purge()
