"""The store command counts make bench reads (services/common/mongo.CommandCounts): each
command once, and the documents it carries, on the real wire protocol."""

import json
import time

import pymongo
from pymongo import UpdateOne

from services.common.mongo import OPERATIONS_PREFIX, CommandCounts


def test_commands_and_the_documents_they_carry_are_counted(settings, tmp_path):
    counts = CommandCounts(str(tmp_path))
    client = pymongo.MongoClient(settings.mongo_uri, event_listeners=[counts])
    name = f"{settings.database_name('counting')}"
    try:
        things = client[name]["things"]
        things.insert_many([{"_id": n} for n in range(3)])
        things.bulk_write(
            [UpdateOne({"_id": 0}, {"$set": {"a": 1}}), UpdateOne({"_id": 1}, {"$set": {"a": 1}})]
        )
        things.find_one({"_id": 2})
        time.sleep(1.2)  # written to the file every half second
        written = json.loads(next(tmp_path.glob("*.json")).read_text())
    finally:
        client.drop_database(name)
        client.close()
    assert (written["insert things"], written["update things"], written["find things"]) == (1, 1, 1)
    assert (
        written[f"{OPERATIONS_PREFIX}insert things"],
        written[f"{OPERATIONS_PREFIX}update things"],
        written[f"{OPERATIONS_PREFIX}find things"],
    ) == (3, 2, 1)
