"""API authentication: DRF's token authentication, loading the person behind the user in the same query."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from labs.prepared import CompiledLookup

KEY_MAX_LENGTH = Token._meta.get_field("key").max_length

# Its SQL built once (labs.prepared): this runs on every API request.
TOKEN_WITH_PERSON = CompiledLookup(
    lambda key: Token.objects.select_related(
        "user", "user__person", "user__person__site", "user__person__company"
    ).filter(key=key),
    key=str,
)


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``: the token, its user, the user's person and the person's site and company in
    one query (DRF's own loads the user, then every view loads the person and its site: three round trips on every
    API request made by a device or an integration)."""

    model = Token

    def authenticate_credentials(self, key):
        model = self.get_model()
        if len(key) > KEY_MAX_LENGTH or "\x00" in key:  # no such token; and PostgreSQL cannot compare a NUL byte
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        try:
            token = TOKEN_WITH_PERSON.get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
