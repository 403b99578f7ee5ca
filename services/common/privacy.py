"""Masking of personal data (PIPL: collect the minimum, mask it where it is not needed).

Used for anything that leaves the service holding the full value: logs, SMS to staff,
API answers, reports. ``pseudonym`` gives a stable, non-reversible id for counting
residents without knowing who they are.
"""

import hashlib
import hmac
import logging
import re

PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
ID_NUMBER_RE = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?!\d)")


def mask_phone(phone):
    """13812345678 -> 138****5678"""
    if not phone:
        return phone
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name):
    """邹书兰 -> 邹**; keeps only the family name (first character)."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_id_number(number):
    """320000199001011234 -> 320000********1234"""
    if not number:
        return number
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_text(text):
    """Masks every mainland mobile number and resident ID number found in free text."""
    text = ID_NUMBER_RE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3)[-4:], text)
    return PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


def pseudonym(key, *parts):
    """A stable pseudonymous id (HMAC-SHA256) for a person, e.g. from their phone."""
    message = "\x1f".join(parts).encode("utf-8")
    return "p_" + hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()[:24]


class MaskingFilter(logging.Filter):
    """Last line of defence: masks phone and ID numbers in every log record.

    Code never logs names or free text on purpose; this catches the numbers that
    slip into exception messages and formatted arguments.
    """

    def filter(self, record):
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
