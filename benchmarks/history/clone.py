"""Copies of a block of history: the documents of a block of requests made by the
services' own code (the template), written again for a later block of the same
length with fresh identities and shifted times.

A template document is kept as its JSON text with every value that names a request,
case, event, message, resident or moment cut out (``compile``); a copy fills them in
from that copy's table (``table``), so a copy costs a string format, not the services'
code. What a copy changes, consistently across every service's documents:

- every UUID (request, event, message, idempotency key ids) to one derived from the
  copy number and the original, except case ids, which are ``case_id_for`` the copy's
  request id as casework derives them (and the case reference in SMS texts follows),
  and the ids of requests made from inbound events, ``inbound_id`` of the copy's event;
- residents' and contacts' phones (the copy's person numbers), their masked forms
  (``mask_phone``), their pseudonyms (``pseudonym``, as intake and notifications
  derive ``resident_ref`` and ``phone_ref``), and the residents' names;
- request fingerprints (a digest of the copy's own);
- every moment: epoch milliseconds by the shift, dates (in ISO times, ``day`` fields)
  by the same number of days. The shift is whole weeks, so weekdays, duty rosters and
  times of day stay as the services decided them.

Workers, stations, needs, statuses and texts stay as the template has them.
"""

import hashlib
import json
import re
from datetime import date, timedelta

from services.casework.domain.opening import case_id_for
from services.common.privacy import mask_phone, pseudonym
from services.intake.domain.inbound import inbound_id

DAY_MS = 86_400_000
# A template's text is read as runs of word characters (ids, numbers, dates are each in
# one run, or end one: "case-<uuid>", "2024-03-05T08") and the names of the history's
# people; each run is then told apart by its shape (``_token``).
RUN = re.compile(r"[0-9A-Za-z_*\-]+|(?:历史居民|家属)\d{6}(?!\d)")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DAY = re.compile(r"20\d\d-\d\d-\d\d")
HEX = re.compile(r"[0-9a-f]+")


def text_of(document):
    """A document's JSON text as it is stored (its values exactly; readers parse it)."""
    return json.dumps(document, ensure_ascii=False)


class Cloner:
    """``cases``: {case id: request id} of the template; ``phones``: the template's
    residents' and contacts' phones; ``stride``: requests per block (person numbers of
    copy k are the template's plus k * stride); ``days``: the block's length."""

    def __init__(self, pseudonym_key, cases, phones, stride, days, inbound=None):
        self.key, self.stride, self.days = pseudonym_key, stride, days
        self.cases = {case_id[5:]: request_id for case_id, request_id in cases.items()}
        # {request id: (source, event id)} of requests made from inbound events, whose
        # ids intake derives from the event's (``inbound.inbound_id``)
        self.inbound = {
            request_id: pair
            for request_id, pair in (inbound or {}).items()
            if inbound_id(*pair) == request_id
        }
        self.case_refs = {case_uuid[-8:].upper(): case_uuid for case_uuid in self.cases}
        self.phones = set(phones)
        self.refs = {pseudonym(pseudonym_key, phone): phone for phone in self.phones}
        self.masks = {mask_phone(phone): phone for phone in self.phones}

    def compile(self, text):
        """(format string, the tokens it takes, in order)."""
        parts, keys, at = [], [], 0
        for match in RUN.finditer(text):
            found = self._token(match.group())
            if found is None:
                continue
            kind, offset, value = found
            begin = match.start() + offset
            parts.append(text[at:begin].replace("%", "%%"))
            parts.append("%s")
            keys.append((kind, value))
            at = begin + len(value)
        parts.append(text[at:].replace("%", "%%"))
        return "".join(parts), tuple(keys)

    def _token(self, run):
        """(kind, offset in the run, value) of what a copy changes in ``run``, or None."""
        size = len(run)
        if run[0] in "历家":
            return "name", 0, run
        if size >= 36 and UUID.fullmatch(run, size - 36) and (size == 36 or run[-37] == "-"):
            return "uuid", size - 36, run[-36:]
        if run.isdigit():
            if size == 13 and run[0] == "1":
                return "ms", 0, run
            if size == 11 and run in self.phones:
                return "phone", 0, run
            return None
        if size >= 10 and DAY.match(run) and (size == 10 or run[10] == "T"):
            return "day", 0, run[:10]
        if size == 26 and run.startswith("p_") and run in self.refs:
            return "ref", 0, run
        if size == 64 and HEX.fullmatch(run):
            return "hex", 0, run
        if size == 11 and run in self.masks:
            return "mask", 0, run
        if size == 8 and run in self.case_refs:
            return "case_ref", 0, run
        return None

    def document(self, document):
        """A template document compiled: (``_id`` format and tokens, text format and tokens)."""
        return self.compile(str(document["_id"])) + self.compile(text_of(document))

    @staticmethod
    def render(compiled, table):
        id_format, id_keys, text_format, text_keys = compiled
        return (
            id_format % tuple(table[key] for key in id_keys),
            text_format % tuple(table[key] for key in text_keys),
        )

    def table(self, copy, keys):
        """The values of copy number ``copy`` (1, 2, ...) for ``keys``."""
        table = {}
        for kind, value in keys:
            table[(kind, value)] = getattr(self, kind)(copy, value)
        return table

    # -- one kind of value each ----------------------------------------------------
    @staticmethod
    def _uuid(copy, value):
        """A version-4 UUID derived from the copy and the original."""
        h = hashlib.md5(f"{copy}|{value}".encode(), usedforsecurity=False).hexdigest()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"

    def uuid(self, copy, value):
        request_id = self.cases.get(value)
        if request_id is not None:  # casework derives it from the request id
            return case_id_for(self.uuid(copy, request_id))[5:]
        if value in self.inbound:  # intake derives it from the inbound event's
            source, event_id = self.inbound[value]
            return inbound_id(source, self._uuid(copy, event_id))
        return self._uuid(copy, value)

    def case_ref(self, copy, value):
        return self.uuid(copy, self.case_refs[value])[-8:].upper()

    def _phone(self, copy, phone):
        return phone[:3] + f"{(int(phone[3:]) + copy * self.stride) % 10**8:08d}"

    def phone(self, copy, value):
        return self._phone(copy, value)

    def mask(self, copy, value):
        return mask_phone(self._phone(copy, self.masks[value]))

    def ref(self, copy, value):
        return pseudonym(self.key, self._phone(copy, self.refs[value]))

    def name(self, copy, value):
        prefix, number = value[:-6], int(value[-6:])
        return f"{prefix}{(number + copy * self.stride) % 10**6:06d}"

    @staticmethod
    def hex(copy, value):
        return hashlib.sha256(f"{copy}|{value}".encode()).hexdigest()

    def ms(self, copy, value):
        return str(int(value) + copy * self.days * DAY_MS)

    def day(self, copy, value):
        return (date.fromisoformat(value) + timedelta(days=copy * self.days)).isoformat()
