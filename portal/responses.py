"""Responses every portal page shares."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render


def forbidden(request, message: str) -> HttpResponse:
    """A 403 as a portal page (navigation, a way back) saying why, instead of a bare line of text."""
    return render(request, "portal/forbidden.html", {"message": message}, status=403)
