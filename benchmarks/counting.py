"""What one request costs in messages and store commands, counted during a phase.

- store commands: every service process counts the commands its pymongo client sends
  (``SHEGONG_COMMAND_COUNTS_DIR``, services/common/mongo.py) and writes the totals to a
  file per process; a snapshot sums them (the embedded store keeps no counters);
- store operations: the documents those commands carry (an insert's documents, an
  update's statements; a read counts one): the embedded store's cost follows these,
  not the commands (docs/performance.md);
- deliveries: RabbitMQ's management API, the deliveries (``deliver_get``) and
  publishes of the run's virtual host, the benchmark's own tap queue left out. Its
  statistics are sampled every 5 s, so a snapshot waits that long after a phase.
"""

import json
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from services.common.mongo import OPERATIONS_PREFIX

STATS_INTERVAL_S = 5.5


def commands_of(path: Path) -> Counter:
    """The counts one process wrote (none while its file is being replaced: the next
    snapshot has them)."""
    try:
        return Counter(json.loads(Path(path).read_text()))
    except (OSError, ValueError):
        return Counter()


def commands(directory: Path) -> Counter:
    total = Counter()
    for path in Path(directory).glob("*.json"):
        total.update(commands_of(path))
    return total


def deliveries(rabbit, vhost: str) -> dict:
    queues = rabbit.call("GET", f"queues/{quote(vhost, safe='')}")
    counted = [q for q in queues if not q["name"].startswith("bench.")]
    return {
        "deliveries": sum(q.get("message_stats", {}).get("deliver_get", 0) for q in counted),
        "acks": sum(q.get("message_stats", {}).get("ack", 0) for q in counted),
    }


class Snapshot:
    def __init__(self, directory: Path, rabbit, vhost: str) -> None:
        self.directory, self.rabbit, self.vhost = directory, rabbit, vhost
        self.commands, self.broker = commands(directory), deliveries(rabbit, vhost)

    def per_request(self, requests: int, settle: bool = True) -> dict:
        """Commands and deliveries since this snapshot, per request (and the commands
        most sent)."""
        if settle:
            time.sleep(STATS_INTERVAL_S)
        now = Snapshot(self.directory, self.rabbit, self.vhost)
        counted = now.commands - self.commands
        sent = Counter(
            {name: n for name, n in counted.items() if not name.startswith(OPERATIONS_PREFIX)}
        )
        operations = Counter(
            {
                name[len(OPERATIONS_PREFIX) :]: n
                for name, n in counted.items()
                if name.startswith(OPERATIONS_PREFIX)
            }
        )
        delivered = now.broker["deliveries"] - self.broker["deliveries"]
        if not requests:
            return {}
        return {
            "store_commands": round(sum(sent.values()) / requests, 2),
            "store_operations": round(sum(operations.values()) / requests, 2),
            "deliveries": round(delivered / requests, 2),
            "top_commands": {name: round(n / requests, 2) for name, n in sent.most_common(12)},
            "top_operations": {
                name: round(n / requests, 2) for name, n in operations.most_common(16)
            },
        }
