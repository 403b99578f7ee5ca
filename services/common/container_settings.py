"""How a Nameko container carries its process's Settings: the configuration key
``Settings.nameko_config()`` puts them under, and ``of_container``, which every
extension of a worker reads them with (never the environment, never a stray key).

Apart from ``config`` because it is the workers' side of the hand-over only; ``config``
re-exports both names (``config.of_container`` is how extensions call it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotation: config imports this module
    from services.common.config import Settings

# where a Nameko container's configuration carries the process's Settings
SETTINGS_KEY = "SHEGONG_SETTINGS"


def of_container(container) -> Settings:
    """The Settings a Nameko container was built with (``Settings.nameko_config()``):
    what every extension of a worker reads its configuration from. A ``SHEGONG_*`` key
    of its own beside them would never be read: refused, as a missing Settings is."""
    found = container.config.get(SETTINGS_KEY)
    stray = [key for key in container.config if key.startswith("SHEGONG_") and key != SETTINGS_KEY]
    if found is None or stray:
        raise LookupError(
            f"{container.service_name}: build its container with Settings.nameko_config() "
            f"(a changed setting: dataclasses.replace of the Settings); stray keys: {stray}"
        )
    return found
