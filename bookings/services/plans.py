"""Where desks and rooms sit on their floor's plan: staff place them (the portal's plan editor, the API)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from django.db import transaction
from django.utils.translation import gettext as _

from bookings.models import Desk, Room
from labs.errors import Invalid
from labs.models import Floor, Person
from labs.permissions import require_staff

MAX_POSITIONS = 1000


def _coordinate(value, *, index: int, name: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 100
    ):
        raise Invalid(
            _("A position is a percentage of the plan, 0 to 100."),
            extra={"positions": {str(index): {name: [_("Give a number from 0 to 100, or null.")]}}},
        )
    return round(float(value), 2)


def floor_plan_positions_set(*, actor: Person, floor: Floor, positions: Iterable[Mapping]) -> dict[str, int]:
    """Place (or, with null coordinates, take off the plan) desks and rooms of ``floor``, all or nothing.

    ``positions`` are ``{"kind": "desk" | "room", "id": ..., "x": 0-100 | None, "y": 0-100 | None}``, x and y in percent
    of the plan's width and height. Staff of the floor's site only; a desk or room of another floor is refused.
    """
    require_staff(actor)
    if floor.site_id != actor.site_id:
        raise Invalid(_("That floor is at another site."))
    positions = list(positions)
    if len(positions) > MAX_POSITIONS:
        raise Invalid(_("At most %(n)d positions at once.") % {"n": MAX_POSITIONS})
    wanted: dict[str, dict[int, tuple[float | None, float | None]]] = {"desk": {}, "room": {}}
    for index, item in enumerate(positions):
        kind, pk = item.get("kind"), item.get("id")
        if kind not in wanted or isinstance(pk, bool) or not isinstance(pk, int):
            raise Invalid(
                _("Each position names a desk or a room by its id."),
                extra={"positions": {str(index): {"kind": [_("desk or room, with an integer id")]}}},
            )
        x, y = _coordinate(item.get("x"), index=index, name="x"), _coordinate(item.get("y"), index=index, name="y")
        if (x is None) != (y is None):
            raise Invalid(_("Give both coordinates, or neither."))
        wanted[kind][pk] = (x, y)
    with transaction.atomic():
        changed = {}
        for kind, model in (("desk", Desk), ("room", Room)):
            items = wanted[kind]
            found = {obj.pk: obj for obj in model.objects.select_for_update().filter(floor=floor, pk__in=list(items))}
            missing = sorted(set(items) - set(found))
            if missing:
                raise Invalid(
                    _("Not on this floor: %(kind)s %(ids)s.") % {"kind": kind, "ids": ", ".join(map(str, missing))}
                )
            for pk, (x, y) in items.items():
                found[pk].plan_x, found[pk].plan_y = x, y
            model.objects.bulk_update(found.values(), ["plan_x", "plan_y"])
            changed[kind + "s"] = len(found)
    return changed
