"""Periodic comfort jobs (Celery beat, registered in ComfortConfig.ready()); each is idempotent."""

from __future__ import annotations

from celery import shared_task

from comfort import services


@shared_task(ignore_result=True)
def commands_sweep() -> dict:
    return services.commands_sweep()


@shared_task(ignore_result=True)
def workspace_reconcile() -> dict:
    return services.workspace_reconcile()
