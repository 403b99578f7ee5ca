"""The one double of the outbox relay (services.common.outbox.OutboxRelay) for tests that
do not run a broker: it records what a writer hands it and answers with the real relay's
return contract (the number of events it would publish: the document's unsent outbox
entries), publishing nothing. Publishing itself is tested on the real broker."""


def unsent_events(document: dict) -> list:
    """The outbox entries of a document past its progress mark, as the relay sends them."""
    published = document.get("published_seq", 0)
    return [event for event in document.get("outbox", []) if event["sequence"] > published]


class RecordingRelay:
    """``published``: (collection name, document) in the order handed over; ``batches``:
    the documents of each publish_now_many. ``batches_only`` refuses single publishes, for
    handlers that must publish a batch's documents together."""

    def __init__(self, batches_only: bool = False) -> None:
        self.published: list[tuple[str, dict]] = []
        self.batches: list[list[dict]] = []
        self.batches_only = batches_only

    def publish_now(self, name: str, document: dict) -> int:
        if self.batches_only:
            raise AssertionError("a batch publishes its documents together")
        return self._record(name, [document])

    def publish_now_many(self, name: str, documents) -> int:
        documents = list(documents)
        self.batches.append(documents)
        return self._record(name, documents)

    @property
    def documents(self) -> list[dict]:
        return [document for _, document in self.published]

    @property
    def events(self) -> list[dict]:
        """Each event handed over, once, in order (a document handed over again after
        more work holds its earlier events too; the real relay sends those once)."""
        seen, events = set(), []
        for document in self.documents:
            for event in unsent_events(document):
                if event["id"] not in seen:
                    seen.add(event["id"])
                    events.append(event)
        return events

    def _record(self, name: str, documents: list) -> int:
        self.published += [(name, document) for document in documents]
        return sum(len(unsent_events(document)) for document in documents)

    def sweep(self, limit: int = 200) -> int:
        """Nothing is left pending: every document was handed over when written."""
        return 0
