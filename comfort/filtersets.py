import django_filters

from comfort.choices import CommandState, DeviceKind
from comfort.models import Command, Device
from labs.api.filters import BooleanFilter, FilterSet, IdFilter, SlugFilter


class DeviceFilterSet(FilterSet):
    kind = django_filters.ChoiceFilter(choices=DeviceKind.choices)
    site = SlugFilter(field_name="site__slug", max_length=40)
    online = BooleanFilter()
    zone = IdFilter(field_name="zone_id")
    desk = IdFilter(field_name="desk_id")

    class Meta:
        model = Device
        fields = ["kind", "site", "online", "zone", "desk"]


class CommandFilterSet(FilterSet):
    state = django_filters.ChoiceFilter(choices=CommandState.choices)
    device = SlugFilter(field_name="device__device_id", max_length=64)

    class Meta:
        model = Command
        fields = ["state", "device"]
