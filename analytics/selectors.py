"""Reads of analytics: a run, and a period's report from the latest finished run that covers it."""

from __future__ import annotations

from datetime import date

from analytics import report
from analytics.choices import RunState
from analytics.models import Run
from labs.models import Person, Site


def run_for(*, actor: Person, pk: int) -> Run | None:
    """A run of the actor's site (staff only; checked by the caller), else None."""
    return Run.objects.filter(pk=pk, site_id=actor.site_id).first()


def run_latest_covering(*, site: Site, date_from: date, date_to: date) -> Run | None:
    return (
        Run.objects.filter(site=site, state=RunState.DONE, date_from__lte=date_from, date_to__gte=date_to)
        .order_by("-finished_at", "-id")
        .first()
    )


def report_for(*, site: Site, date_from: date, date_to: date) -> dict | None:
    """The published figures of the period: the stored report of the latest finished run over exactly that period,
    else built now from the snapshots of the latest finished run that covers it; None if no run covers it."""
    run = run_latest_covering(site=site, date_from=date_from, date_to=date_to)
    if run is None:
        return None
    if run.date_from == date_from and run.date_to == date_to and run.report:
        return run.report
    return report.report_build(site=site, date_from=date_from, date_to=date_to)
