import django_filters

from comfort.choices import CommandState, DeviceKind
from comfort.models import Command, Device


class DeviceFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=DeviceKind.choices)
    site = django_filters.CharFilter(field_name="site__slug")
    online = django_filters.BooleanFilter()
    zone = django_filters.NumberFilter(field_name="zone_id")
    desk = django_filters.NumberFilter(field_name="desk_id")

    class Meta:
        model = Device
        fields = ["kind", "site", "online", "zone", "desk"]


class CommandFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=CommandState.choices)
    device = django_filters.CharFilter(field_name="device__device_id")

    class Meta:
        model = Command
        fields = ["state", "device"]
