"""What an event type is, and the names made from it: its type string, its handlers'
name and (through them) its queues.

The catalogue of the system's event types is ``contracts.py``; this module is the shape
of one entry. An event type is ``shegong.<aggregate>.<name>.v<version>``. A breaking
change of an event is a new version published beside the old one until every consumer
has moved (docs/operations.md, section 8), so the version is part of every name made
from a contract: the type (the routing key), and the entrypoint's name, and with them the
entrypoint's queue, ``evt-<producer>-<type>--<service>.<entrypoint>``
(topology.entrypoint_queue). Version 1 entrypoints keep the names they always had
(``case_opened``: their queues are deployed); a later version's entrypoint carries it
(``case_opened_v2``), so the two can run side by side in one service during the upgrade.
"""

import builtins
from dataclasses import dataclass

NAMESPACE = "shegong"


@dataclass(frozen=True)
class EventContract:
    """One event type: ``shegong.<aggregate>.<name>.v<version>``.

    ``aggregate`` is what the event is about (request, case, message, program, ...) and
    ``name`` what happened to it; consumers dispatch on these, never on the type string.
    """

    aggregate: str
    name: str
    producer: str
    schema: builtins.type  # (``type`` below is the event type's name)
    consumers: tuple
    description: str
    version: int = 1
    # Published elsewhere than ``<producer>.events`` with the type as routing key: the
    # exchange, and the data field whose value is the routing key (e.g. the agency id).
    exchange: str = ""
    routing_field: str = ""

    @property
    def type(self) -> str:
        """shegong.case.opened.v1: the CloudEvents type, the routing key."""
        return f"{NAMESPACE}.{self.aggregate}.{self.name}.v{self.version}"

    @property
    def short_type(self) -> str:
        """case.opened: the type without its namespace and version."""
        return f"{self.aggregate}.{self.name}"

    @property
    def entrypoint_name(self) -> str:
        """case_opened (version 1), case_opened_v2 (version 2): what a service's entrypoint
        of this event is called, in every service (its queue is named after it:
        topology.entrypoint_queue)."""
        unversioned = f"{self.aggregate}_{self.name}"
        return unversioned if self.version == 1 else f"{unversioned}_v{self.version}"

    @property
    def exchange_name(self) -> str:
        return self.exchange or f"{self.producer}.events"

    def routing_key(self, data: dict) -> str:
        return str(data[self.routing_field]) if self.routing_field else self.type


def define_contract(short_type, producer, schema, consumers, description, version=1, **where):
    """The contract of ``<aggregate>.<name>`` (``short_type``) at ``version``."""
    aggregate, _, name = short_type.partition(".")
    if version < 1:
        raise ValueError(f"{short_type}: versions start at 1, not {version}")
    return EventContract(
        aggregate, name, producer, schema, tuple(consumers), description, version, **where
    )
