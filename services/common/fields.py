"""Field types shared by every boundary schema: one definition of what a valid value is."""
import re
from datetime import date

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.common import clock
from services.common.vocabulary import RESIDENT_CATEGORIES, stations

MAINLAND_MOBILE = r"^1[3-9]\d{9}$"
ID_CARD = r"^\d{17}[\dX]$"
ID_CARD_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CARD_CHECK = "10X98765432"


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _instant_validator(value):
    try:
        clock.parse_iso(value)
    except (ValueError, TypeError, AttributeError):
        raise ValidationError("must be an ISO 8601 time with a UTC offset, "
                              "e.g. 2023-05-29T08:00:00+08:00") from None


def Instant(**kwargs):
    """An ISO 8601 instant with offset, kept as the string it was given."""
    return fields.String(validate=_instant_validator, **kwargs)


def StationId(**kwargs):
    return fields.String(validate=validate.OneOf(sorted(stations()),
                                                 error="unknown station {input!r}"), **kwargs)


def Phone(**kwargs):
    return fields.String(validate=validate.Regexp(
        MAINLAND_MOBILE, error="must be a mainland China mobile number (11 digits, 1[3-9]…)"),
        **kwargs)


def _id_card_validator(value):
    """GB 11643: 18 characters, the last a check digit over the first 17."""
    if not isinstance(value, str) or not re.match(ID_CARD, value):
        raise ValidationError("must be an 18-character resident ID card number")
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], ID_CARD_WEIGHTS))
    if ID_CARD_CHECK[total % 11] != value[17]:
        raise ValidationError("check digit does not match (GB 11643)")


def IdCardNumber(**kwargs):
    return fields.String(validate=_id_card_validator, **kwargs)


def Day(**kwargs):
    """A calendar day in the district's time zone, ISO format (2023-05-29), this century."""
    return fields.Date(validate=validate.Range(date(2000, 1, 1), date(2099, 12, 31)), **kwargs)


def Categories(**kwargs):
    return fields.List(fields.String(validate=validate.OneOf(sorted(RESIDENT_CATEGORIES))),
                       validate=validate.Length(max=len(RESIDENT_CATEGORIES)), **kwargs)


