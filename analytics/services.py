"""Every state change of analytics: start a run, execute it (recompute the changed days' snapshots in SQL, then build
the period's report), and the nightly runs. Runs are claimed with a conditional UPDATE, so a task delivered twice
executes once."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from analytics import compute, report
from analytics.choices import RunState, RunTrigger
from analytics.models import Run
from bookings.models import Room
from labs.errors import Invalid, NotFound
from labs.models import Person, Site
from labs.permissions import require_staff
from labs.transactions import enqueue_after_commit

logger = logging.getLogger(__name__)

NIGHTLY_DAYS = 84  # the nightly run keeps the last 12 weeks fresh
MAX_DAYS = 400
QUEUED_RESEND_AFTER = timedelta(minutes=5)  # a run still queued this long: its task is sent again (runs_sweep)
STALLED_MARGIN = timedelta(minutes=1)  # past the task time limit, a run still running has lost its worker
# A running run touches its heartbeat at every step (a batch of 14 days, the report); the whole job at 1,000,000
# bookings took about two minutes (docs/analytics.md). Ten minutes without a heartbeat: its worker is gone.
STALLED_AFTER = timedelta(minutes=10)
STALLED_ERROR = "Stopped: the worker running it ended before it finished. Start the run again."


def _check_period(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise Invalid(gettext("'to' must be on or after 'from'."), extra={"to": [gettext("Must be on or after from.")]})
    if (date_to - date_from).days + 1 > MAX_DAYS:
        raise Invalid(
            gettext("A period is at most %(days)d days.") % {"days": MAX_DAYS},
            extra={"to": [gettext("At most %(days)d days after from.") % {"days": MAX_DAYS}]},
        )


def site_for_staff(*, actor: Person | None, slug: str | None) -> Site:
    """The site whose analytics ``actor`` may see: staff of that site only (another site is a 404)."""
    require_staff(actor)
    site = Site.objects.filter(slug=slug or actor.site.slug).first()
    if site is None or site.pk != actor.site_id:
        raise NotFound("No such site.")
    return site


def run_create(
    *, site: Site, date_from: date, date_to: date, trigger: str = RunTrigger.ON_DEMAND, enqueue: bool = True
) -> Run:
    """Queue a run for the local days ``date_from``..``date_to``; the task starts after commit."""
    _check_period(date_from, date_to)
    run = Run(site=site, date_from=date_from, date_to=date_to, trigger=trigger)
    run.full_clean(exclude=["site"])
    run.save()
    if enqueue:
        from analytics import tasks

        enqueue_after_commit(tasks.run_execute, run.pk)
    return run


def _progress(run_id: int, value: float) -> None:
    Run.objects.filter(pk=run_id, state=RunState.RUNNING).update(
        progress=round(min(max(value, 0.0), 1.0), 4), heartbeat_at=timezone.now()
    )


def run_execute(*, run_id: int, now: datetime | None = None) -> Run | None:
    """Execute a queued run: recompute the days whose bookings changed (or were computed before they ended), then
    store the period's report. Claimed once; a failure is recorded on the run, never raised into the worker."""
    now = now or timezone.now()
    claimed = Run.objects.filter(pk=run_id, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=now, heartbeat_at=timezone.now()
    )
    if not claimed:
        return None
    run = Run.objects.select_related("site").get(pk=run_id)
    try:
        cal = compute.SiteCalendar.load(run.site)
        days = compute.days_in(run.date_from, run.date_to)
        dirty, fingerprints = compute.changed_days(cal, days, now=now)
        _progress(run_id, 0.1)
        total = len(dirty)
        compute.recompute(
            cal, dirty, fingerprints, now=now, progress=lambda done: _progress(run_id, 0.1 + 0.8 * done / total)
        )
        figures = report.report_build(site=run.site, date_from=run.date_from, date_to=run.date_to, now=now)
    except Exception as exc:
        logger.exception("analytics run %s failed", run_id)
        Run.objects.filter(pk=run_id).update(
            state=RunState.FAILED, error=f"{type(exc).__name__}: {exc}"[:500], finished_at=timezone.now()
        )
        return Run.objects.get(pk=run_id)
    Run.objects.filter(pk=run_id).update(
        state=RunState.DONE,
        progress=1.0,
        report=figures,
        days_recomputed=total,
        finished_at=timezone.now(),
    )
    return Run.objects.get(pk=run_id)


def runs_nightly(*, now: datetime | None = None) -> list[int]:
    """For every site with rooms: a run over the last 12 weeks up to yesterday (local), executed here."""
    now = now or timezone.now()
    done = []
    for site in Site.objects.filter(pk__in=Room.objects.values("site_id")).order_by("pk"):
        yesterday = now.astimezone(site.tz).date() - timedelta(days=1)
        run = run_create(
            site=site,
            date_from=yesterday - timedelta(days=NIGHTLY_DAYS - 1),
            date_to=yesterday,
            trigger=RunTrigger.NIGHTLY,
            enqueue=False,
        )
        run_execute(run_id=run.pk, now=now)
        done.append(run.pk)
    return done


def runs_sweep(*, now: datetime | None = None) -> tuple[int, int]:
    """Runs that would otherwise wait for ever; returns (sent again, marked failed).

    - Still queued after ``QUEUED_RESEND_AFTER``: its task was never queued (a broker outage when it was created,
      logged by labs.transactions) or was lost; it is sent again. A run is claimed once, so a task that was only
      slow executes it once all the same.
    - Still running with no heartbeat for ``STALLED_AFTER`` (every step touches it): its worker ended without
      recording anything (killed at the time limit, a deploy, the OOM killer). It is marked failed with a reason, so
      the dashboard stops showing it as running within minutes and staff may start it again; the nightly run
      recomputes its days anyway. A run without a heartbeat (started before there was one) is judged by the task
      time limit, as before. Should a slow step outlive the ten minutes after all, its run still ends done.
    """
    from analytics import tasks

    now = now or timezone.now()
    queued = list(
        Run.objects.filter(state=RunState.QUEUED, created_at__lt=now - QUEUED_RESEND_AFTER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for run_id in queued:
        enqueue_after_commit(tasks.run_execute, run_id)
    stalled_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) - STALLED_MARGIN
    silent = Q(heartbeat_at__lt=now - STALLED_AFTER) | Q(heartbeat_at__isnull=True, started_at__lt=stalled_before)
    failed = Run.objects.filter(silent, state=RunState.RUNNING).update(
        state=RunState.FAILED, error=STALLED_ERROR, finished_at=now
    )
    if queued or failed:
        logger.warning("analytics runs: %s queued sent again, %s stalled marked failed", len(queued), failed)
    return len(queued), failed


def runs_purge(*, keep_days: int = 90, now: datetime | None = None) -> int:
    """Finished runs older than ``keep_days`` go (their reports are rebuilt from the snapshots on demand)."""
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    deleted, _ = Run.objects.filter(Q(state=RunState.DONE) | Q(state=RunState.FAILED), created_at__lt=cutoff).delete()
    return deleted
