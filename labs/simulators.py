"""Other apps' device simulators, run by ``manage.py simulate_devices`` beside the comfort devices.

An app registers ``factory(*, site: str, url: str, stop: asyncio.Event) -> Awaitable[None]`` from its
``AppConfig.ready()`` (badges' simulated readers, for example), so the command never imports a sibling app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

SimulatorFactory = Callable[..., Awaitable[None]]

_factories: dict[str, SimulatorFactory] = {}


def register(name: str, factory: SimulatorFactory) -> None:
    _factories[name] = factory


def registered() -> dict[str, SimulatorFactory]:
    return dict(_factories)
