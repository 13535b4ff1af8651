"""
WSGI config for labs project.

It exposes the WSGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labs.settings")

application = get_wsgi_application()

# Load the URL patterns (and with them every view, serializer and form) now rather than on the first request, then
# keep all of it out of the garbage collector's full collections (labs/runtime.py: ~150 ms pauses otherwise).
from django.urls import get_resolver  # noqa: E402

from labs.runtime import freeze_startup_objects  # noqa: E402

get_resolver().url_patterns  # noqa: B018
freeze_startup_objects()
