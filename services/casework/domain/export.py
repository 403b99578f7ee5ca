"""A station's cases of a period as CSV for the monthly report (pure, no I/O).

UTF-8 with a byte order mark so that Excel opens the Chinese text right; the
resident's name and phone masked unless the export is in full (a role that may see
personal data, and the export recorded in the access log).
"""
import csv
import io
from typing import Iterable

from services.common.fields import scrub_text
from services.common.privacy import mask_name, mask_phone
from services.common.vocabulary import PRIORITY_LABELS

BOM = "\ufeff"
COLUMNS = (("case_id", "案件编号"), ("station", "站点"), ("status", "状态"),
           ("priority", "优先级"), ("need_type", "需求类型"), ("resident_name", "居民姓名"),
           ("resident_phone", "居民电话"), ("categories", "服务对象类别"),
           ("assignee", "负责社工"), ("opened_at", "立案时间"), ("accepted_at", "受理时间"),
           ("resolved_at", "办结时间"), ("closed_at", "归档时间"),
           ("sla_breached", "超时环节"), ("request_id", "求助编号"))


def row(case, resident: dict, full: bool) -> dict:
    """One case as a CSV row; ``resident``: the registry's record (or the case's copy)."""
    name, phone = resident.get("name") or "", resident.get("phone") or ""
    return {"case_id": case.case_id, "station": case.station, "status": case.status,
            "priority": PRIORITY_LABELS.get(case.priority, case.priority),
            "need_type": case.need_type,
            "resident_name": name if full else mask_name(name),
            "resident_phone": phone if full else mask_phone(phone),
            "categories": ";".join(resident.get("categories") or ()),
            "assignee": (case.assignee or {}).get("name") or "",
            "opened_at": case.opened_at, "accepted_at": case.accepted_at or "",
            "resolved_at": case.resolved_at or "", "closed_at": case.closed_at or "",
            "sla_breached": ";".join(case.sla_breached), "request_id": case.request_id}


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
