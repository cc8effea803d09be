"""faust's producers made idempotent, like every other producer of the project.

faust sends with acks=-1 but asks aiokafka for idempotence only inside a transaction, so a
retry after a broker failure (a leader killed or cut off mid-request) could write a
derived record twice. The merge stage tolerates a duplicate, a changelog too; a
duplicated record is still a needless one, and the cluster fault suite retries a lot.
`install` adds `enable_idempotence=True` to the settings of every producer faust makes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

_INSTALLED = "_meterstream_idempotent"


def install() -> None:
    producer: Any = faust_aiokafka.Producer
    if getattr(producer, _INSTALLED, False):
        return
    original: Callable[[Any], Mapping[str, Any]] = producer._settings_extra

    def settings_extra(self: Any) -> Mapping[str, Any]:
        return {**original(self), "enable_idempotence": True}

    producer._settings_extra = settings_extra
    setattr(producer, _INSTALLED, True)
