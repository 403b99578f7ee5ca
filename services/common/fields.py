"""Field types shared by every boundary schema: one definition of what a valid value is."""

import re
import unicodedata
from datetime import date, datetime, timedelta

import phonenumbers
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.common import clock, config
from services.common.vocabulary import RESIDENT_CATEGORIES, stations

ID_CARD = r"^\d{17}[\dX]$"
ID_CARD_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CARD_CHECK = "10X98765432"

# Every integer a client sends has a range (documented in the OpenAPI documents as
# minimum/maximum, and in docs/intake.md); beyond it is 422 naming the field, never a
# number MongoDB cannot store (64 bits) or a JavaScript client cannot read exactly.
MAX_SAFE_INTEGER = 2**53 - 1  # JSON numbers exact in every client
MAX_SEQUENCE = MAX_SAFE_INTEGER  # event sequences, versions, after_seq cursors
MAX_AMOUNT_FEN = 1_000_000_000  # ¥10,000,000: far above any one donation or aid
MAX_QUANTITY = 1_000_000  # items of goods donated at once
MAX_PARTICIPANTS = 100_000  # people at one activity


class Strict(Schema):
    class Meta:
        unknown = RAISE


# Free text (names, addresses, notes, reasons, ids as typed): stored NFC-normalised, and
# never with characters that steer a terminal, a log line, a CSV cell or the reading
# direction. A single-line field (a name, phone, address, title, id) refuses every C0
# control (tab and line feed too), DEL, every C1 control (U+0080-U+009F, NEL U+0085
# among them), the Unicode line and paragraph separators (U+2028, U+2029) and the bidi
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069). A multi-line field
# (a note, a description, a summary, a reason in words) refuses the same except line
# feed and tab; a CR LF line end is stored as LF, a lone CR is refused.
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
SINGLE_LINE_REFUSED = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI_CONTROLS}]")
MULTI_LINE_REFUSED = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI_CONTROLS}]")


def refused_character(value: str, multiline: bool = False):
    """The first character free text may not hold, or None."""
    found = (MULTI_LINE_REFUSED if multiline else SINGLE_LINE_REFUSED).search(value)
    return found.group() if found else None


def clean_text(value: str, multiline: bool = False) -> str:
    """VALUE as free text is stored: NFC, CR LF as LF when multi-line; ValidationError
    when it holds a character it may not (control characters, see above)."""
    text = unicodedata.normalize("NFC", value)
    if multiline:
        text = text.replace("\r\n", "\n")
    bad = refused_character(text, multiline)
    if bad is not None:
        allowed = "other than line feed and tab" if multiline else "(it is a single line)"
        raise ValidationError(
            f"must not contain control, line separator or bidi control "
            f"characters {allowed}: U+{ord(bad):04X} at position "
            f"{text.index(bad) + 1}"
        )
    return text


def scrub_text(value: str, multiline: bool = False) -> str:
    """VALUE made fit to keep or show without refusing it: NFC, each character free text
    may not hold replaced by U+FFFD. For text recorded from outside systems (a provider's
    error) and for what is written out (CSV) from records kept before these rules."""
    text = unicodedata.normalize("NFC", value)
    if multiline:
        text = text.replace("\r\n", "\n")
    return (MULTI_LINE_REFUSED if multiline else SINGLE_LINE_REFUSED).sub("\ufffd", text)


class Text(fields.String):
    """Free text: NFC-normalised, refusing control characters (``clean_text``).
    ``multiline``: line feeds and tabs allowed (notes, descriptions, summaries)."""

    def __init__(self, *, multiline: bool = False, **kwargs) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return clean_text(super()._deserialize(value, attr, data, **kwargs), self.multiline)


def Line(**kwargs) -> Text:
    """Single-line free text or an identifier: a name, phone, address, title, id."""
    return Text(**kwargs)


def Notes(**kwargs) -> Text:
    """Multi-line free text: a note, description, summary or reason in words."""
    return Text(multiline=True, **kwargs)


def _instant_validator(value):
    try:
        clock.parse_iso(value)
    except (ValueError, TypeError, AttributeError):
        raise ValidationError(
            "must be an ISO 8601 time with a UTC offset, e.g. 2023-05-29T08:00:00+08:00"
        ) from None


class StationDates:
    """The dates a station could mean: from ``SHEGONG_FIRST_DAY`` (the stations started
    in 2023) to ``SHEGONG_DAYS_AHEAD`` days after today in the district (config.py).
    Anything else is a typo (2000 for 2026, 2062 for 2026) that would move the district's
    figures, so every date or time a command or an event carries is checked with it;
    ``tests/contract/test_dates.py`` walks the schemas so that none escapes."""

    DESCRIPTION = (
        "a day a station could mean: from SHEGONG_FIRST_DAY (2023-01-01) to "
        "SHEGONG_DAYS_AHEAD (1) days after today in the district"
    )

    def __call__(self, value):
        if isinstance(value, datetime):
            day = clock.local_date(value)
        elif isinstance(value, date):
            day = value
        else:
            try:
                day = clock.local_date(clock.parse_iso(value))
            except (ValueError, TypeError, AttributeError):
                return value  # not a time at all: the field's format check says so
        first, ahead = config.accepted_dates()
        last = clock.local_date(clock.now()) + timedelta(days=ahead)
        if not first <= day <= last:
            raise ValidationError(
                f"must be a day from {first.isoformat()} to {last.isoformat()} (the "
                f"district's calendar): the stations started in {first.year}, and a date "
                "far in the past or the future is a typo"
            )
        return value


STATION_DATES = StationDates()


def Instant(**kwargs):
    """An ISO 8601 instant with offset, kept as the string it was given, within the
    dates a station could mean (StationDates): for commands' bodies and events."""
    return fields.String(validate=[_instant_validator, STATION_DATES], **kwargs)


def Day(**kwargs):
    """A calendar day in the district's time zone, ISO format (2023-05-29), within the
    dates a station could mean (StationDates): for commands' bodies and events."""
    return fields.Date(validate=STATION_DATES, **kwargs)


def AnyInstant(**kwargs):
    """An ISO 8601 instant with offset, any year: for queries (reading a period that
    extends past the data is harmless), never for what a command records."""
    return fields.String(validate=_instant_validator, **kwargs)


def AnyDay(**kwargs):
    """A calendar day of this century, ISO format: for queries, never for what a
    command records."""
    return fields.Date(validate=validate.Range(date(2000, 1, 1), date(2099, 12, 31)), **kwargs)


def StationId(**kwargs):
    return fields.String(
        validate=validate.OneOf(sorted(stations()), error="unknown station {input!r}"), **kwargs
    )


def BoundedInteger(
    minimum: int = 0, maximum: int = MAX_SAFE_INTEGER, *, strict: bool = True, **kwargs
) -> fields.Integer:
    """An integer from ``minimum`` to ``maximum``: JSON numbers in bodies (``strict``: no
    floats, no strings), text in query strings (``strict=False``)."""
    if not (-MAX_SAFE_INTEGER <= minimum <= maximum <= MAX_SAFE_INTEGER):
        raise ValueError(f"range {minimum}..{maximum} is not within JSON's exact integers")
    return fields.Integer(
        strict=strict,
        validate=validate.Range(
            minimum, maximum, error=f"must be an integer from {minimum} to {maximum}"
        ),
        **kwargs,
    )


# What a phone number may look like when sent: the 11-digit national form, or E.164 with
# +86. ASCII digits only (\d would take fullwidth or Arabic-Indic look-alikes), nothing
# around it; the number itself must be a mobile number in use (phonenumbers' metadata).
PHONE_TEXT = r"^(\+86)?1[3-9][0-9]{9}$"
_PHONE_TEXT = re.compile(PHONE_TEXT, re.ASCII)
_MOBILE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)


def normalise_phone(value: object) -> str:
    """A mainland China mobile number in its stored form, the 11-digit national number
    (13812345678; residents are keyed by it), or ValidationError."""
    if not isinstance(value, str) or not _PHONE_TEXT.match(value) or value != value.strip():
        raise ValidationError(
            "must be a mainland China mobile number: 11 ASCII digits "
            "(13812345678) or +86 and them, nothing else"
        )
    return _national_mobile(value)


# Not cached: a check costs ~20 us, and a cache would keep residents' phone numbers in
# the worker's memory after their requests are done (personal data, kept no longer
# than needed).
def _national_mobile(value: str) -> str:
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        number = None
    # number_type is UNKNOWN for a number that is not valid (is_valid_number is that
    # same match against +86's metadata, done a second time): a mobile type implies valid
    if (
        number is None
        or number.country_code != 86
        or phonenumbers.number_type(number) not in _MOBILE_TYPES
    ):
        raise ValidationError("is not a mainland China mobile number in use")
    return phonenumbers.national_significant_number(number)


class _Phone(Text):
    def _deserialize(self, value, attr, data, **kwargs):
        return normalise_phone(super()._deserialize(value, attr, data, **kwargs))


def Phone(**kwargs) -> fields.String:
    """A mainland China mobile number, validated with phonenumbers and loaded in its
    normalised (national, 11-digit) form."""
    metadata = {
        "pattern": PHONE_TEXT,
        "example": "13812345678",
        "description": "mainland China mobile number (+86 optional); stored as the "
        "11-digit national number",
        **kwargs.pop("metadata", {}),
    }
    return _Phone(metadata=metadata, **kwargs)


def _id_card_validator(value):
    """GB 11643: 18 characters, the last a check digit over the first 17."""
    # ASCII only: \d alone would take fullwidth and other look-alike digits
    if not isinstance(value, str) or not re.fullmatch(ID_CARD, value, re.ASCII):
        raise ValidationError("must be an 18-character resident ID card number")
    total = sum(
        int(digit) * weight for digit, weight in zip(value[:17], ID_CARD_WEIGHTS, strict=True)
    )
    if ID_CARD_CHECK[total % 11] != value[17]:
        raise ValidationError("check digit does not match (GB 11643)")


def IdCardNumber(**kwargs):
    return fields.String(validate=_id_card_validator, **kwargs)


def Categories(**kwargs):
    return fields.List(
        fields.String(validate=validate.OneOf(sorted(RESIDENT_CATEGORIES))),
        validate=validate.Length(max=len(RESIDENT_CATEGORIES)),
        **kwargs,
    )
