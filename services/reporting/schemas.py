"""marshmallow schemas of the reporting HTTP API."""
from marshmallow import ValidationError, fields, validate, validates_schema

from services.common.contracts import Strict
from services.common.vocabulary import stations


class SummaryQuery(Strict):
    station = fields.String(validate=validate.OneOf(sorted(stations()),
                                                    error="unknown station {input!r}"))
    # 'from' is a Python keyword: the query parameters map onto date_from / date_to.
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")

    @validates_schema
    def _ordered(self, data, **_):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("'from' must not be after 'to'", "from")
