"""``@every("relay_interval_s")``: a Nameko timer whose interval is a setting.

nameko's ``@timer(interval=...)`` takes a number when the service class is defined,
which would mean reading the environment at import. This timer is given the name of a
Settings attribute instead (dotted for a nested one: ``notifications.sweep_interval_s``)
and reads it from the container's Settings when the container is set up
(``config.of_container``), as every other extension of the worker does. An interval
that is a constant, not a setting, stays a plain ``@timer``.
"""

from operator import attrgetter
from typing import Callable

from nameko.timer import Timer

from services.common import config


class SettingsTimer(Timer):
    """Fires every ``<setting>`` seconds (or as soon as the previous worker completes if
    that took longer); ``eager``: also once as the service starts."""

    def __init__(self, setting: str, eager: bool = False, **kwargs) -> None:
        self.setting = setting
        # the interval is unknown until setup: the container's Settings say it
        super().__init__(interval=None, eager=eager, **kwargs)

    def setup(self) -> None:
        self.interval = float(attrgetter(self.setting)(config.of_container(self.container)))
        super().setup()


every: Callable = SettingsTimer.decorator
