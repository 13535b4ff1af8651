"""Portal: the staff analytics dashboard (heatmap, rooms, trend, unmet demand, recommendations, CSV) and its job.

Staff of the site only; everyone else gets a 403. Every figure comes from the analytics selectors (aggregates, k-
anonymous); the charts are SVG rendered here (portal/charts.py), so the page needs no script but htmx's polling of a
running job's progress.
"""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from analytics import recommend, selectors, services
from analytics.api.views import rooms_csv
from analytics.choices import Confidence, RecommendationKind, RunState
from analytics.models import Run
from labs.errors import DomainError
from labs.permissions import is_staff, person_of
from portal import charts
from portal.responses import forbidden

FORBIDDEN = gettext_lazy("Only staff of the site see its analytics.")


class PeriodForm(forms.Form):
    date_from = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise forms.ValidationError(_("The period must end on or after its first day."))
        return data


def _staff(request):
    person = person_of(request.user)
    return person if is_staff(person) else None


def _default_period(site) -> tuple[date, date]:
    yesterday = timezone.now().astimezone(site.tz).date() - timedelta(days=1)
    return yesterday - timedelta(days=83), yesterday


def _period(request, site) -> tuple[PeriodForm, date, date]:
    start, end = _default_period(site)
    data = request.GET if request.method == "GET" else request.POST
    form = PeriodForm(
        {"date_from": data.get("from") or start, "date_to": data.get("to") or end}
        if data.get("from") or data.get("to")
        else None,
        initial={"date_from": start, "date_to": end},
    )
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    return form, start, end


@login_required
@require_http_methods(["GET", "HEAD"])
def dashboard(request):
    person = _staff(request)
    if person is None:
        return forbidden(request, FORBIDDEN)
    site = person.site
    form, date_from, date_to = _period(request, site)
    found = (
        selectors.report_for(site=site, date_from=date_from, date_to=date_to)
        if form.is_valid() or not form.is_bound
        else None
    )
    active = Run.objects.filter(site=site, state__in=[RunState.QUEUED, RunState.RUNNING]).order_by("-id").first()
    query = urlencode({"from": date_from.isoformat(), "to": date_to.isoformat()})
    context = {
        "site": site,
        "form": form,
        "date_from": date_from,
        "date_to": date_to,
        "query": query,
        "report": found,
        "active": active,
        "heatmap": charts.heatmap(found["heatmap"]) if found else "",
        "bars": charts.room_bars(found["rooms"]) if found else "",
        "trend": charts.trend(found["weeks"]) if found else "",
        "unmet": _unmet_summary(found) if found else [],
        "cards": _cards(found) if found else [],
        "suppressed_rooms": sum(1 for r in found["rooms"] if r["suppressed"]) if found else 0,
    }
    status = 400 if form.is_bound and not form.is_valid() else 200
    with timezone.override(site.tz):
        return render(request, "portal/analytics/dashboard.html", context, status=status)


def _cards(found: dict) -> list[dict]:
    """The recommendations in the reader's language: the kind, the words, the confidence and the evidence's labels
    (a run stores its summary in the project's language, for the API)."""
    kinds = dict(RecommendationKind.choices)
    confidences = dict(Confidence.choices)
    cards = []
    for rec in found["recommendations"]:
        try:
            summary = recommend.describe(rec["kind"], rec["evidence"])
        except (KeyError, TypeError, ZeroDivisionError):  # evidence stored before a figure was added to it
            summary = rec["summary"]
        cards.append(
            {
                **rec,
                "summary": summary,
                "label": kinds.get(rec["kind"], rec["kind"]),
                "confidence_label": confidences.get(rec["confidence"], rec["confidence"]),
                "figures": [recommend.FIGURE_LABELS.get(f, f) for f in rec["evidence"].get("figures", [])],
                "facts": [
                    (recommend.EVIDENCE_LABELS.get(key, key.replace("_", " ").capitalize()), _fact(key, value))
                    for key, value in rec["evidence"].items()
                    if key != "figures"
                ],
            }
        )
    return cards


def _fact(key: str, value):
    """A piece of evidence as the reader's language writes it: shares as percentages, decimals with its mark."""
    if isinstance(value, float):
        if key in recommend.EVIDENCE_SHARES:
            return recommend.percent(value)
        return formats.number_format(value, 2)
    return value


def _unmet_summary(found: dict) -> list[dict]:
    """Unmet demand per size band (published cells only), busiest first."""
    by_band: dict[str, int] = {}
    hidden: dict[str, int] = {}
    for cell in found["unmet_demand"]:
        if cell["suppressed"]:
            hidden[cell["size_band"]] = hidden.get(cell["size_band"], 0) + 1
        else:
            by_band[cell["size_band"]] = by_band.get(cell["size_band"], 0) + cell["attempts"]
    bands = sorted(set(by_band) | set(hidden))
    return [{"band": b, "attempts": by_band.get(b, 0), "hidden_cells": hidden.get(b, 0)} for b in bands]


@login_required
@require_POST
def run_start(request):
    person = _staff(request)
    if person is None:
        return forbidden(request, FORBIDDEN)
    form, date_from, date_to = _period(request, person.site)
    if form.is_bound and not form.is_valid():
        messages.error(request, _("Choose a period that ends on or after its first day."))
        return redirect("portal:analytics")
    try:
        run = services.run_create(site=person.site, date_from=date_from, date_to=date_to)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("portal:analytics")
    query = urlencode({"from": date_from.isoformat(), "to": date_to.isoformat(), "run": run.pk})
    return redirect(f"{reverse('portal:analytics')}?{query}")


@login_required
@require_http_methods(["GET"])
def run_progress(request, pk: int):
    """The progress fragment htmx polls; once the run has finished the page reloads to show its figures."""
    person = _staff(request)
    if person is None:
        return forbidden(request, FORBIDDEN)
    run = selectors.run_for(actor=person, pk=pk)
    if run is None:
        raise Http404("No such run.")
    response = render(request, "portal/analytics/_progress.html", {"run": run})
    if run.state in {RunState.DONE, RunState.FAILED} and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_http_methods(["GET"])
def rooms_download(request):
    person = _staff(request)
    if person is None:
        return forbidden(request, FORBIDDEN)
    _form, date_from, date_to = _period(request, person.site)
    found = selectors.report_for(site=person.site, date_from=date_from, date_to=date_to)
    if found is None:
        raise Http404("No analysis covers this period yet.")
    response = HttpResponse(rooms_csv(found), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rooms-{person.site.slug}-{date_from}-{date_to}.csv"'
    return response
