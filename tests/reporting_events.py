"""Generated event histories for reporting's tests and benchmark.

``month(seed)`` builds the events the other services would publish over a month for
several stations: requests (some repeats, linked to the open case), whole case lives
with sequences and statuses, SMS and their receipts, and station programmes. It also
returns the ground truth (what happened, as plain tuples) so that a test can compute
the expected figures without going through reporting's code.
"""

import random
import uuid
import weakref
from datetime import date, datetime, timedelta, timezone

from services.casework import seed as casework_seed
from services.common import clock
from services.common.contracts import (
    ACTIVITY_HELD,
    AID_DISTRIBUTED,
    CASE_ACCEPTED,
    CASE_ACTION_RECORDED,
    CASE_ASSIGNED,
    CASE_CANCELLED,
    CASE_CLOSED,
    CASE_ESCALATED,
    CASE_OPENED,
    CASE_REQUEST_LINKED,
    CASE_RESOLVED,
    CASE_SLA_BREACHED,
    DONATION_RECEIVED,
    MESSAGE_DELIVERED,
    MESSAGE_FAILED,
    MESSAGE_SENT,
    REQUEST_RECEIVED,
    RESIDENT_REGISTRY_UPDATED,
    SOCIAL_ORGANISATION_CULTIVATED,
    STATION_ROSTER_PUBLISHED,
    VOLUNTEER_JOINED,
    VOLUNTEER_TEAM_FORMED,
)
from services.common.envelope import new_event
from services.reporting.domain.figures import METRICS, summary
from services.reporting.domain.series import series_of
from services.reporting.handlers.projector import Projector

TZ = timezone(timedelta(hours=8))
CHANNELS = ("phone", "walk_in", "online", "hotline")
NEEDS = ("medicine_purchase", "daily_living_help", "home_visit", "policy_consultation")
PRIORITIES = ("urgent", "normal", "low")
PHONE = "13812345678"
NAME = "邹书兰"
ID_NUMBER = "11010519491231002X"

_projectors = weakref.WeakKeyDictionary()


def keep_one(projector, envelope, data):
    """reporting's handling of one validated event: ``handlers.keep_many`` of one;
    raises what failed it (ProjectionFailed...)."""
    from services.reporting import handlers

    failed = handlers.keep_many(projector, [(envelope, data)])
    if failed:
        raise failed[0]


keep = keep_one


def projector_of(store):
    """The test process's projector on ``store``: one per store, as the service has one
    per container (its group commit and its lease shared by every handler)."""
    if store not in _projectors:
        _projectors[store] = Projector(store)
    return _projectors[store]


def stored_events(store, pending=None):
    """``{event id: record}`` of every event reporting's event store holds (a repeat
    once), kept in batches or, before them, one a document; ``pending``: only those of
    batches (and documents) with that ``pending`` (1 waiting, 0 projected)."""
    query = {} if pending is None else {"pending": pending}
    found = {e["_id"]: e for e in store.events.find(query)}
    for batch in store.batches.find(query):
        found.update({e["_id"]: e for e in batch["events"]})
    return found


def _iso(moment):
    return moment.astimezone(TZ).isoformat(timespec="seconds")


class History:
    def __init__(self, seed, validate=True):
        self.random = random.Random(seed)
        self.validate = validate
        self.events = []  # (envelope) in the order they happened
        self.requests = []  # (request_id, station, day, channel, need, resident_ref, repeat)
        self.cases = {}  # case_id -> dict of what happened
        self.messages = {}  # message_id -> {station, sent_day, delivered_day, failed_day}
        self.programs = []  # (kind, station, day, value...)

    def emit(
        self, contract, data, *, subject, correlation_id, causation=None, sequence=None, at=None
    ):
        if self.validate:
            envelope = new_event(
                contract,
                data,
                subject=subject,
                correlation_id=correlation_id,
                causation_id=causation,
                sequence=sequence,
                time=at,
            )
        else:
            envelope = {
                "id": str(uuid.UUID(int=self.random.getrandbits(128))),
                "source": "/suyu/shegong/" + contract.producer,
                "specversion": "1.0",
                "type": contract.type,
                "time": _iso(at),
                "subject": subject,
                "datacontenttype": "application/json",
                "data": data,
                "correlationid": correlation_id,
                "causationid": causation,
                "sequence": sequence,
            }
        self.events.append(envelope)
        return envelope["id"]

    def request(self, station, at, resident_ref, repeat_of=None):
        request_id = f"req-{len(self.requests) + 1:06d}"
        channel, need = self.random.choice(CHANNELS), self.random.choice(NEEDS)
        self.requests.append(
            (request_id, station, clock.local_day(at), channel, need, resident_ref, repeat_of)
        )
        cause = self.emit(
            REQUEST_RECEIVED,
            {
                "request_id": request_id,
                "channel": channel,
                "station": station,
                "resident": {
                    "name": NAME,
                    "phone": PHONE,
                    "categories": ["elderly"],
                    "id_number": ID_NUMBER,
                },
                "resident_ref": resident_ref,
                "need": {"type": need, "description": "药吃完了"},
                "received_at": _iso(at),
                "repeat_of": repeat_of,
            },
            subject=request_id,
            correlation_id=request_id,
            at=at,
        )
        return request_id, need, cause

    def case(self, station, at):
        resident_ref = f"p_{self.random.randrange(40):04d}"
        request_id, need, cause = self.request(station, at, resident_ref)
        case_id = f"case-{len(self.cases) + 1:06d}"
        priority = self.random.choice(PRIORITIES)
        case = {
            "station": station,
            "priority": priority,
            "need": need,
            "received": at,
            "request_id": request_id,
        }
        self.cases[case_id] = case
        ref = {"case_id": case_id, "request_id": request_id, "station": station}
        seq = [0]

        def step(contract, status, data, when):
            seq[0] += 1
            return self.emit(
                contract,
                {**ref, "status": status, **data},
                subject=case_id,
                correlation_id=request_id,
                causation=cause,
                sequence=seq[0],
                at=when,
            )

        t = at + timedelta(seconds=self.random.randrange(1, 30))
        case["opened"] = t
        opened = step(
            CASE_OPENED,
            "received",
            {
                "priority": priority,
                "priority_reason": "x",
                "need_type": need,
                "resident_ref": resident_ref,
                "categories": ["elderly"],
                "channel": "phone",
                "request_received_at": _iso(at),
                "opened_at": _iso(t),
            },
            t,
        )
        staff = {"id": f"{station}-01", "name": "王晨光", "phone": "13900000001"}
        step(
            CASE_ASSIGNED,
            "assigned",
            {
                "priority": priority,
                "need_type": need,
                "assignee": staff,
                "resident": {"name": "邹**", "phone": "138****5678"},
                "assigned_at": _iso(t),
            },
            t,
        )
        self.message(station, case_id, request_id, t, opened)
        if self.random.random() < 0.08:
            step(
                CASE_CANCELLED,
                "cancelled",
                {
                    "reason": "withdrawn",
                    "cancelled_by": staff["id"],
                    "cancelled_at": _iso(t + timedelta(minutes=5)),
                },
                t + timedelta(minutes=5),
            )
            case["cancelled"] = t + timedelta(minutes=5)
            return case_id
        if self.random.random() < 0.15:
            breach = t + timedelta(minutes=30)
            step(
                CASE_SLA_BREACHED,
                "assigned",
                {
                    "kind": "acceptance",
                    "priority": priority,
                    "due_at": _iso(breach),
                    "breached_at": _iso(breach),
                },
                breach,
            )
            step(
                CASE_ESCALATED,
                "assigned",
                {
                    "reason": "sla_breach",
                    "priority": priority,
                    "station_head": staff,
                    "escalated_at": _iso(breach),
                },
                breach,
            )
            case["sla"] = breach
        t = t + timedelta(minutes=self.random.randrange(1, 240))
        if t.date() > date(2023, 5, 31) and self.random.random() < 0.5:
            return case_id  # still waiting at the end of the month
        case["accepted"] = t
        step(
            CASE_ACCEPTED,
            "accepted",
            {"accepted_by": staff["id"], "assignee_name": "王晨光", "accepted_at": _iso(t)},
            t,
        )
        if self.random.random() < 0.2:  # the resident calls again: linked to this case
            again = t + timedelta(minutes=10)
            linked, _, _ = self.request(station, again, resident_ref, repeat_of=request_id)
            step(
                CASE_REQUEST_LINKED,
                "accepted",
                {"linked_request_id": linked, "linked_at": _iso(again)},
                again,
            )
        for action in ("visit", "purchase", "delivery")[: self.random.randrange(1, 4)]:
            t += timedelta(minutes=self.random.randrange(5, 90))
            step(
                CASE_ACTION_RECORDED,
                "in_progress",
                {"action_type": action, "recorded_by": staff["id"], "recorded_at": _iso(t)},
                t,
            )
        if self.random.random() < 0.1:
            return case_id
        t += timedelta(minutes=self.random.randrange(5, 3000))
        case["resolved"] = t
        step(
            CASE_RESOLVED,
            "resolved",
            {
                "priority": priority,
                "resolved_by": staff["id"],
                "assignee_name": "王晨光",
                "resolved_at": _iso(t),
            },
            t,
        )
        if self.random.random() < 0.5:
            t += timedelta(days=self.random.randrange(1, 4))
            case["closed"] = t
            step(CASE_CLOSED, "closed", {"closed_by": staff["id"], "closed_at": _iso(t)}, t)
        return case_id

    def message(self, station, case_id, request_id, at, cause):
        message_id = f"msg-{len(self.messages) + 1:06d}"
        record = {"station": station, "sent": clock.local_day(at)}
        self.messages[message_id] = record
        base = {
            "message_id": message_id,
            "case_id": case_id,
            "request_id": request_id,
            "station": station,
            "recipient_role": "worker",
            "channel": "sms",
            "template": "case_assigned",
            "provider": "dev",
        }
        sent = self.emit(
            MESSAGE_SENT,
            {**base, "status": "sent", "sent_at": _iso(at)},
            subject=message_id,
            correlation_id=request_id,
            causation=cause,
            sequence=1,
            at=at,
        )
        later = at + timedelta(seconds=20)
        if self.random.random() < 0.85:
            record["delivered"] = clock.local_day(later)
            self.emit(
                MESSAGE_DELIVERED,
                {**base, "status": "delivered", "delivered_at": _iso(later)},
                subject=message_id,
                correlation_id=request_id,
                causation=sent,
                sequence=2,
                at=later,
            )
        else:
            record["failed"] = clock.local_day(later)
            self.emit(
                MESSAGE_FAILED,
                {
                    **base,
                    "status": "failed",
                    "reason": f"号码 {PHONE} 停机",
                    "failed_at": _iso(later),
                },
                subject=message_id,
                correlation_id=request_id,
                causation=sent,
                sequence=2,
                at=later,
            )

    def program(self, station, day):
        at = datetime(day.year, day.month, day.day, 10, tzinfo=TZ)
        common = {"station": station, "recorded_by": f"{station}-01", "on": day.isoformat()}
        choice = self.random.randrange(6)
        n = len(self.programs) + 1
        subject = f"{station}-program-{n}"
        if choice == 0:
            self.programs.append(("team", station, day.isoformat(), f"team-{n}"))
            self.emit(
                VOLUNTEER_TEAM_FORMED,
                {**common, "team_id": f"team-{n}", "name": "志愿服务队"},
                subject=subject,
                correlation_id=subject,
                at=at,
            )
            for member in range(self.random.randrange(1, 4)):
                self.programs.append(("volunteer", station, day.isoformat(), f"team-{n}/v{member}"))
                self.emit(
                    VOLUNTEER_JOINED,
                    {**common, "team_id": f"team-{n}", "member_ref": f"v{member}"},
                    subject=subject,
                    correlation_id=subject,
                    at=at,
                )
        elif choice == 1:
            self.programs.append(("organisation", station, day.isoformat(), f"org-{n}"))
            self.emit(
                SOCIAL_ORGANISATION_CULTIVATED,
                {**common, "organisation_id": f"org-{n}", "name": "邻里互助会"},
                subject=subject,
                correlation_id=subject,
                at=at,
            )
        elif choice == 2:
            fen = self.random.randrange(1, 500) * 100
            self.programs.append(("donation", station, day.isoformat(), fen))
            self.emit(
                DONATION_RECEIVED,
                {**common, "donation_id": f"don-{n}", "kind": "money", "amount_fen": fen},
                subject=subject,
                correlation_id=subject,
                at=at,
            )
        elif choice == 3:
            household = f"h_{self.random.randrange(12):03d}"
            self.programs.append(("aid", station, day.isoformat(), household))
            self.emit(
                AID_DISTRIBUTED,
                {
                    **common,
                    "aid_id": f"aid-{n}",
                    "household_ref": household,
                    "items": "米、油",
                    "value_fen": 20000,
                },
                subject=subject,
                correlation_id=subject,
                at=at,
            )
        else:
            kind = ("training", "group_work")[choice - 4]
            self.programs.append(("activity", station, day.isoformat(), kind))
            self.emit(
                ACTIVITY_HELD,
                {
                    **common,
                    "activity_id": f"act-{n}",
                    "activity_type": kind,
                    "title": "培训",
                    "participants": 12,
                },
                subject=subject,
                correlation_id=subject,
                at=at,
            )

    def registry_update(self, at):
        self.emit(
            RESIDENT_REGISTRY_UPDATED,
            {
                "change": "added",
                "resident_ref": "p_0001",
                "person": {
                    "id_number": ID_NUMBER,
                    "name": NAME,
                    "phone": PHONE,
                    "station": "daxing",
                    "categories": ["elderly", "living_alone"],
                    "emergency_contacts": [
                        {"name": "邹丽", "relation": "女儿", "phone": "13912345678"}
                    ],
                },
                "source": {
                    "system": "civil-affairs",
                    "kind": "key_person_update",
                    "event_id": "ca-1",
                },
                "updated_at": _iso(at),
            },
            subject="p_0001",
            correlation_id="ca-1",
            at=at,
        )

    def rosters(self, stations, at):
        """Each station's seeded roster, as casework publishes it when loaded."""
        for station in stations:
            staff = [
                {"id": w["id"], "role": w["role"], "duty_days": sorted(w["duty_days"])}
                for w in sorted(casework_seed.roster(), key=lambda w: w["id"])
                if w["station"] == station
            ]
            self.emit(
                STATION_ROSTER_PUBLISHED,
                {"station": station, "staff": staff, "published_at": _iso(at)},
                subject=station,
                correlation_id=f"roster-{station}",
                sequence=1,
                at=at,
            )


def month(
    seed=7, stations=("daxing", "xiaxiang", "shunhe"), cases_per_day=3, validate=True, days=31
):
    """A month (May 2023) of history (or its first ``days``)."""
    history = History(seed, validate)
    history.registry_update(datetime(2023, 5, 1, 9, tzinfo=TZ))
    for offset in range(days):
        day = date(2023, 5, 1) + timedelta(days=offset)
        for station in stations:
            for _ in range(history.random.randrange(0, cases_per_day * 2 + 1)):
                at = datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(
                    minutes=history.random.randrange(0, 24 * 60)
                )
                history.case(station, at)
            if history.random.random() < 0.3:
                history.program(station, day)
    # last, so that the random draws (and so the rest of the history) stay as they were
    history.rosters(stations, datetime(2023, 5, 1, 8, tzinfo=TZ))
    return history


def deliveries(events, seed=3, repeats=0.2):
    """The events as a broker might deliver them: shuffled, some twice."""
    rng = random.Random(seed)
    delivered = list(events) + [e for e in events if rng.random() < repeats]
    rng.shuffle(delivered)
    return delivered


def series_of_dailies(dailies, metric, interval, date_from=None, date_to=None, today=None):
    """A series made from daily figures documents alone (domain/series.py's
    ``series_of``, each period's value from its days' figures): what the service's
    series, whatever it reads, must equal."""
    dailies = list(dailies)

    def value(first, last):
        return METRICS[metric](summary(d for d in dailies if first <= d["day"] <= last))

    days = sorted({d["day"] for d in dailies})
    return series_of(days, value, interval, date_from, date_to, today)
