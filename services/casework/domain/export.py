"""A station's cases of a period as CSV for the monthly report (pure, no I/O).

UTF-8 with a byte order mark so that Excel opens the Chinese text right; the
resident's name and phone masked unless the export is in full (a role that may see
personal data, and the export recorded in the access log).

Every coded column is in Chinese for the civil affairs bureau: the station's name,
the status, the priority, the need, the resident's categories and the deadlines missed
are their labels of services/common/vocabulary.py (``CODED``). The codes themselves are
kept, for systems that read them, in columns of their own after the others ("状态代码"
...), so every column keeps one meaning and one language.
"""

import csv
import io
from typing import Iterable

from services.common.fields import scrub_text
from services.common.privacy import mask_name, mask_phone
from services.common.vocabulary import (
    CASE_STATUS_LABELS,
    CASE_STATUSES,
    NEED_TYPES,
    PRIORITIES,
    PRIORITY_LABELS,
    RESIDENT_CATEGORIES,
    SLA_KIND_LABELS,
    SLA_KINDS,
    stations,
)

BOM = "\ufeff"
SEPARATOR = ";"  # between the several values of one cell (categories, deadlines missed)


def _station_labels() -> dict:
    return {code: station["name"] for code, station in stations().items()}


# column -> (title of its code column, every code it may carry, code -> Chinese label)
CODED = {
    "station": ("站点代码", lambda: tuple(stations()), _station_labels),
    "status": ("状态代码", lambda: CASE_STATUSES, lambda: CASE_STATUS_LABELS),
    "priority": ("优先级代码", lambda: PRIORITIES, lambda: PRIORITY_LABELS),
    "need_type": ("需求类型代码", lambda: tuple(NEED_TYPES), lambda: NEED_TYPES),
    "categories": (
        "服务对象类别代码",
        lambda: tuple(RESIDENT_CATEGORIES),
        lambda: RESIDENT_CATEGORIES,
    ),
    "sla_breached": ("超时环节代码", lambda: SLA_KINDS, lambda: SLA_KIND_LABELS),
}
COLUMNS = (
    ("case_id", "案件编号"),
    ("station", "站点"),
    ("status", "状态"),
    ("priority", "优先级"),
    ("need_type", "需求类型"),
    ("resident_name", "居民姓名"),
    ("resident_phone", "居民电话"),
    ("categories", "服务对象类别"),
    ("assignee", "负责社工"),
    ("opened_at", "立案时间"),
    ("accepted_at", "受理时间"),
    ("resolved_at", "办结时间"),
    ("closed_at", "归档时间"),
    ("sla_breached", "超时环节"),
    ("request_id", "求助编号"),
) + tuple((f"{key}_code", title) for key, (title, _, _) in CODED.items())


def label(column: str, code: str) -> str:
    """The Chinese label of a code of a coded column (the code itself if it has none)."""
    return CODED[column][2]().get(code, code)


def _coded(column: str, codes) -> dict:
    """A coded column's label cell and code cell, for one code or several."""
    many = list(codes) if isinstance(codes, (list, tuple)) else [codes]
    return {
        column: SEPARATOR.join(label(column, code) for code in many if code),
        f"{column}_code": SEPARATOR.join(code for code in many if code),
    }


def row(case, resident: dict, full: bool) -> dict:
    """One case as a CSV row; ``resident``: the registry's record (or the case's copy)."""
    name, phone = resident.get("name") or "", resident.get("phone") or ""
    values = {
        "case_id": case.case_id,
        "resident_name": name if full else mask_name(name),
        "resident_phone": phone if full else mask_phone(phone),
        "assignee": (case.assignee or {}).get("name") or "",
        "opened_at": case.opened_at,
        "accepted_at": case.accepted_at or "",
        "resolved_at": case.resolved_at or "",
        "closed_at": case.closed_at or "",
        "request_id": case.request_id,
    }
    for column, codes in (
        ("station", case.station),
        ("status", case.status),
        ("priority", case.priority),
        ("need_type", case.need_type),
        ("categories", tuple(resident.get("categories") or ())),
        ("sla_breached", tuple(case.sla_breached)),
    ):
        values.update(_coded(column, codes))
    return values


def to_csv(rows: Iterable[dict]) -> bytes:
    """The rows under a header line of Chinese column names, CRLF lines, UTF-8 with BOM.
    A value starting with = + - @ is prefixed with ' so a spreadsheet does not run it;
    a control character (in a record kept before input refused them) is written as
    U+FFFD, so no cell ever holds one."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for _, title in COLUMNS])
    for values in rows:
        writer.writerow([_cell(values[key]) for key, _ in COLUMNS])
    return (BOM + out.getvalue()).encode("utf-8")


def _cell(value) -> str:
    text = "" if value is None else scrub_text(str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
