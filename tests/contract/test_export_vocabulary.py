"""Every coded value the casework CSV export can carry has a Chinese label (issue 26,
item 7): the codes are walked from services/common/vocabulary.py itself, so a new code
added there without its label fails here."""

import re

import pytest

from services.casework.domain import export
from services.common import vocabulary

CHINESE = re.compile(r"[\u4e00-\u9fff]")
# which vocabulary each coded column of the export draws its codes from
SOURCES = {
    "station": lambda: list(vocabulary.stations()),
    "status": lambda: vocabulary.CASE_STATUSES,
    "priority": lambda: vocabulary.PRIORITIES,
    "need_type": lambda: list(vocabulary.NEED_TYPES),
    "categories": lambda: list(vocabulary.RESIDENT_CATEGORIES),
    "sla_breached": lambda: vocabulary.SLA_KINDS,
}


def test_every_coded_column_of_the_export_is_known_here():
    assert set(export.CODED) == set(SOURCES)
    coded_fields = {"station", "status", "priority", "need_type", "categories", "sla_breached"}
    assert coded_fields <= {key for key, _ in export.COLUMNS}


@pytest.mark.parametrize("column", sorted(SOURCES))
def test_every_code_has_a_chinese_label(column):
    for code in SOURCES[column]():
        text = export.label(column, code)
        assert text != code and CHINESE.search(text), f"{column} {code!r} has no Chinese label"


def test_every_label_dict_of_the_vocabulary_is_chinese():
    for name in dir(vocabulary):
        value = getattr(vocabulary, name)
        if name.isupper() and isinstance(value, dict):
            for code, text in value.items():
                assert CHINESE.search(text), f"vocabulary.{name}[{code!r}] = {text!r}"
