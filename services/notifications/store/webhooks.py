"""``webhook_deliveries``: one document per referral sent to a webhook agency (keyed by
the referral event's id): its state (``pending``, ``retrying``, ``delivered``,
``failed``: retries used up and the event dead-lettered), attempts (all of them, and
those of the current round: an operator's replay of the dead letter starts a new round
of retries) and last error."""

from typing import Optional, cast

from pymongo import UpdateOne
from pymongo.database import Database

from services.common import list_keys, migrations


def _keys(station: str, created_at: str, delivery_id: str) -> dict:
    """Newest first, by station or for the district (services/common/list_keys.py)."""
    return {
        "list_station_created": list_keys.key(station, "all", created_at, delivery_id),
        "list_district_created": list_keys.key("*", "all", created_at, delivery_id),
    }


def round_attempts(delivery: dict) -> int:
    """The attempts since the delivery started or was last replayed."""
    return delivery.get("round_attempts", delivery["attempts"])


class WebhookDeliveries:
    def __init__(self, database: Database) -> None:
        self.deliveries = database["webhook_deliveries"]

    def ensure_indexes(self) -> None:
        self.deliveries.create_index("state")
        self.deliveries.create_index("created_at")
        self.deliveries.create_index("list_station_created")
        self.deliveries.create_index("list_district_created")
        migrations.run_once(self.deliveries.database, "webhook_list_keys", self._key_all)

    def _key_all(self) -> int:
        """The list keys of deliveries stored before they existed."""
        operations = [
            UpdateOne({"_id": d["_id"]}, {"$set": _keys(d["station"], d["created_at"], d["_id"])})
            for d in self.deliveries.find({}, {"station": 1, "created_at": 1})
        ]
        if operations:
            self.deliveries.bulk_write(operations, ordered=False)
        return len(operations)

    def start(self, envelope: dict, url: str, at: str) -> dict:
        """The delivery of this event (created on its first attempt)."""
        data = envelope["data"]
        self.deliveries.update_one(
            {"_id": envelope["id"]},
            {
                "$setOnInsert": {
                    "agency": data["agency"],
                    "referral_id": data["referral_id"],
                    "case_id": data["case_id"],
                    "station": data["station"],
                    "url": url,
                    "state": "pending",
                    "attempts": 0,
                    "created_at": at,
                    "history": [],
                    **_keys(data["station"], at, envelope["id"]),
                }
            },
            upsert=True,
        )
        # upserted just above, and nothing removes a delivery: it is there
        return cast(dict, self.deliveries.find_one({"_id": envelope["id"]}))

    def record(
        self, delivery: dict, state: str, status: Optional[int], error: Optional[str], at: str
    ) -> None:
        """One more attempt: the history is written whole ($push of a document is wrong on
        the development store), and only over the attempt it follows."""
        attempt = delivery["attempts"] + 1
        history = [
            *delivery.get("history", []),
            {"attempt": attempt, "at": at, "status": status, "error": error},
        ]
        self.deliveries.update_one(
            {"_id": delivery["_id"], "attempts": delivery["attempts"]},
            {
                "$set": {
                    "state": state,
                    "attempts": attempt,
                    "round_attempts": round_attempts(delivery) + 1,
                    "last_status": status,
                    "last_error": error,
                    "updated_at": at,
                    "history": history,
                }
            },
        )

    def replayed(self, delivery: dict, at: str) -> dict:
        """A failed delivery whose dead letter an operator replayed: a new round of
        retries (the attempts so far stay in its history)."""
        self.deliveries.update_one(
            {"_id": delivery["_id"], "attempts": delivery["attempts"], "state": "failed"},
            {
                "$set": {
                    "state": "pending",
                    "round_attempts": 0,
                    "updated_at": at,
                    "replays": delivery.get("replays", 0) + 1,
                }
            },
        )
        return cast(dict, self.deliveries.find_one({"_id": delivery["_id"]}))  # (as in start)

    def find(
        self,
        station: str | None = None,
        state: str | None = None,
        agency: str | None = None,
        limit: int = 100,
    ) -> list[dict]:
        """The newest deliveries (of a station, in a state, to an agency): one index range
        of the station's (or the district's) list, the state and agency kept from it."""

        def keep(delivery: dict) -> bool:
            return (not state or delivery.get("state") == state) and (
                not agency or delivery.get("agency") == agency
            )

        field = "list_station_created" if station else "list_district_created"
        found, _ = list_keys.page(
            self.deliveries,
            field,
            station or "*",
            ["all"],
            "created",
            "created_at",
            True,
            limit,
            keep=keep,
        )
        return found
