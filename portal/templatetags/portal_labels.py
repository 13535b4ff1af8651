"""Names of things as people read them in the active language: ``{{ key|amenity }}`` -> "Screen", "Skærm"."""

from __future__ import annotations

from django import template

from bookings.choices import amenity_label
from comfort.choices import hvac_action_label

register = template.Library()


@register.filter
def amenity(key) -> str:
    """An amenity's name (bookings.choices.amenity_label); an operator's own amenity as written."""
    return amenity_label(str(key))


@register.filter
def hvac_action(key) -> str:
    """What an HVAC unit reports doing ("cooling" -> "køler"); a value the contract does not name, as sent."""
    return hvac_action_label(str(key))
