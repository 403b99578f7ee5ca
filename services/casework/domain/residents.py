"""The residents registry's rules (pure, no I/O): what is kept of a person served and
how registry updates and requests change it.

The registry is the only place where a resident's full personal data lives (name,
phone, ID number, emergency contacts); cases keep the pseudonymous ``resident_ref``
and a masked copy.
"""

import re

from services.common.privacy import mask_id_number, mask_name, mask_phone

FLAG_CATEGORIES = ("living_alone", "key_concern", "no_family_nearby")


def from_registry(current, update, at):
    """Apply a ResidentRegistryUpdated (the key-persons list) to the record (or None).

    "removed" takes the person off the list (the key_concern flag goes) but keeps the
    record: past cases still refer to it.
    """
    person = update["person"]
    record = dict(current or {})
    record["resident_ref"] = update["resident_ref"]
    for key in ("name", "phone", "station"):
        if person.get(key):
            record[key] = person[key]
    record["id_number"] = person["id_number"]
    categories = set(record.get("categories", ()))
    if update["change"] == "removed":
        categories.discard("key_concern")
        record["key_person"] = "removed"
    else:
        categories |= set(person.get("categories", ())) | {"key_concern"}
        record["key_person"] = "listed"
        if person.get("emergency_contacts"):
            record["emergency_contacts"] = [dict(c) for c in person["emergency_contacts"]]
    record["categories"] = sorted(categories)
    record["registry_source"] = dict(update["source"])
    record["updated_at"] = at
    return record


def from_request(current, request, at):
    """Record what a request says about its resident (categories only ever added)."""
    resident = request["resident"]
    record = dict(current or {})
    record["resident_ref"] = record.get("resident_ref") or request["resident_ref"]
    record["name"], record["phone"] = resident["name"], resident["phone"]
    record.setdefault("station", request["station"])
    if resident.get("id_number"):
        record["id_number"] = resident["id_number"]
    if resident.get("emergency_contact"):
        contacts = [
            c
            for c in record.get("emergency_contacts", [])
            if c.get("phone") != resident["emergency_contact"]["phone"]
        ]
        record["emergency_contacts"] = [dict(resident["emergency_contact"]), *contacts][:5]
    record["categories"] = sorted(set(record.get("categories", ())) | set(resident["categories"]))
    record["updated_at"] = at
    return record


def lookup_keys(record):
    """The keys besides its id that find a record (``resident_keys``): its ID number and
    its phone, as a request or a registry entry that names them finds it."""
    keys = []
    if record.get("id_number"):
        keys.append(f"id_number:{record['id_number'].upper()}")
    if record.get("phone"):
        keys.append(f"phone:{record['phone']}")
    return keys


def new_lookup_keys(record, before):
    """The lookup keys of ``record`` that do not point at it yet: all of them for a new
    record (``before`` None, or another record's), else those ``before`` did not have.
    (The keys are written before their record, so a record found already has its own.)"""
    if before is None or before.get("_id") != record["_id"]:
        return lookup_keys(record)
    known = set(lookup_keys(before))
    return [key for key in lookup_keys(record) if key not in known]


def key_of(id_number=None, phone=None):
    """The lookup key of an ID number or a phone (lookup_keys)."""
    return f"id_number:{id_number.upper()}" if id_number else f"phone:{phone}"


def with_open_case(record, need_type, case_id):
    """The record noting the case just opened for a need. A hint only: the case itself
    says whether it is still open (a closed one is not removed from the record)."""
    return {**record, "open_cases": {**(record.get("open_cases") or {}), need_type: case_id}}


def hinted_cases(record):
    """{need_type: case_id} of the cases the record notes (with_open_case)."""
    return dict((record or {}).get("open_cases") or {})


def flags(record):
    """The categories the registry knows for a resident (triage adds them to the request's)."""
    return tuple((record or {}).get("categories", ()))


# Roles that see residents' personal data in full in lists and exports; every other
# role sees it masked there, and in full only by opening one resident or case (a read
# that is recorded in the access log).
FULL_DATA_ROLES = ("station_head", "district_admin")
ID_NUMBER_TEXT = re.compile(r"^\d{17}[\dXx]$")
DIGITS = re.compile(r"^\d{3,11}$")


def sees_in_full(role: str) -> bool:
    return role in FULL_DATA_ROLES


def search_fields(record: dict) -> dict:
    """What a search reads through indexes besides the name and the phone: the given name
    (the name after its family name) and the phone reversed (its last digits first)."""
    name, phone = record.get("name") or "", record.get("phone") or ""
    return {"given_name": name[1:], "phone_reversed": phone[::-1]}


def search_ranges(text: str) -> list:
    """``[(field, lowest, beyond)]``, the index ranges a search reads (``beyond`` None: an
    equality): an ID number whole; digits as the start or the end of the phone (staff
    often know the last four); anything else as the start of the name or of the given
    name (family name first, as Chinese names are written)."""
    text = text.strip()
    if ID_NUMBER_TEXT.match(text):
        return [("id_number", text.upper(), None)]
    if DIGITS.match(text):
        return [("phone", text, _beyond(text)), ("phone_reversed", text[::-1], _beyond(text[::-1]))]
    return [("name", text, _beyond(text)), ("given_name", text, _beyond(text))]


def _beyond(prefix: str) -> str:
    """The first text after every text that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def view(record: dict, full: bool) -> dict:
    """A resident as shown to staff: in full, or with name, phone, ID number and the
    emergency contacts masked."""
    shown = {
        "resident_ref": record["_id"],
        "station": record.get("station"),
        "categories": list(record.get("categories", ())),
        "key_person": record.get("key_person"),
        "updated_at": record.get("updated_at"),
    }
    contacts = [dict(contact) for contact in record.get("emergency_contacts", ())]
    if full:
        return {
            **shown,
            "name": record.get("name"),
            "phone": record.get("phone"),
            "id_number": record.get("id_number"),
            "emergency_contacts": contacts,
        }
    return {
        **shown,
        "name": mask_name(record.get("name")),
        "phone": mask_phone(record.get("phone")),
        "id_number": mask_id_number(record.get("id_number")),
        "emergency_contacts": [
            {
                **contact,
                "name": mask_name(contact.get("name")),
                "phone": mask_phone(contact.get("phone")),
            }
            for contact in contacts
        ],
    }
