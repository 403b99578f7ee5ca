"""When and whether a message goes: status order, retries, quiet hours, rate limits. Pure.

Two kinds of recipient, two policies (``sms_limit``): residents and their families are
protected from floods (quiet hours, ``rate_limit_per_hour`` SMS per number) by every
message that is not about an urgent case — a message about an urgent case (``urgent``:
the case's priority, or an urgent rule such as a missed check-in) is what they are
waiting for, so it is held neither by quiet hours nor by the limit (it still counts
towards the limit of the messages after it); staff (a social worker, a station head,
the duty officer) are told of urgent work at once, never held by quiet hours or the
residents' limit: at most a far higher ``staff_rate_limit_per_hour`` per number *and
message kind* (template), so a flood of one kind cannot hold another, and a held staff
message is recorded and counted.

A message's status only moves forward (``MESSAGE_STATUSES`` order); ``delivered``,
``failed`` and ``technical_failure`` are final, and nothing moves a message out of a
final status.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.common import clock

RANK = {"created": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3, "technical_failure": 3}
FINAL = ("delivered", "failed", "technical_failure")
PENDING = ("created", "sending")
HOUR_MS = 3_600_000
# Who may be woken at night only for something urgent: people outside the stations.
QUIET_ROLES = ("resident", "emergency_contact")
# Who works at or for the stations: told of urgent work whatever the hour or volume.
STAFF_ROLES = ("worker", "station_head", "duty_officer")


@dataclass(frozen=True)
class SmsLimit:
    """How many SMS an hour may go to one number; ``per_kind``: counted per message kind
    (template) rather than across every SMS to the number; ``reason``: what a hold says."""

    per_hour: int
    per_kind: bool
    reason: str


def recipient_kind(role: str) -> str:
    """``staff`` or ``resident`` (residents and their families)."""
    return "staff" if role in STAFF_ROLES else "resident"


def sms_limit(message: dict, policy) -> SmsLimit | None:
    """The hourly limit that applies to a message, or None when none does (not an SMS,
    a resident's or family's message about an urgent case, or the limit switched off
    with 0)."""
    if message["channel"] != "sms":
        return None
    if message.get("urgent") and recipient_kind(message["recipient_role"]) == "resident":
        return None
    if recipient_kind(message["recipient_role"]) == "staff":
        limit = SmsLimit(policy.staff_rate_limit_per_hour, True, "staff_rate_limited")
    else:
        limit = SmsLimit(policy.rate_limit_per_hour, False, "rate_limited")
    return limit if limit.per_hour > 0 else None


def moves_forward(current, new):
    """True when ``new`` is later than ``current``: a late or repeated report is not."""
    return RANK[new] > RANK[current]


def retry_delay_s(attempts_made, delays_s):
    """Seconds to wait before the next attempt after ``attempts_made`` temporary failures;
    None when the retries are used up (the message becomes technical_failure)."""
    if attempts_made <= len(delays_s):
        return delays_s[attempts_made - 1]
    return None


def _clock_time(text):
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(now, start="22:00", end="07:00", tz=clock.DISTRICT_TZ):
    """The end of the quiet hours ``now`` falls in, or None outside them (local time)."""
    local = now.astimezone(ZoneInfo(tz))
    begin, finish = _clock_time(start), _clock_time(end)
    at = local.time()
    if begin == finish:
        return None
    inside = (begin <= at or at < finish) if begin > finish else (begin <= at < finish)
    if not inside:
        return None
    day = local.date() if at < finish else local.date() + timedelta(days=1)
    return datetime.combine(day, finish, tzinfo=ZoneInfo(tz))


def waits_out_quiet_hours(message):
    """Non-urgent SMS to residents and their families wait for the morning."""
    return (
        message["channel"] == "sms"
        and message["recipient_role"] in QUIET_ROLES
        and not message.get("urgent")
    )


def rate_limited_until(recent_sent_ms, now_ms, limit_per_hour):
    """When another SMS may go to a phone that was sent ``recent_sent_ms`` (within the
    last hour); None if it may go now."""
    window = sorted(ms for ms in recent_sent_ms if ms > now_ms - HOUR_MS)
    if limit_per_hour <= 0 or len(window) < limit_per_hour:
        return None
    return window[len(window) - limit_per_hour] + HOUR_MS


def hold(message: dict, now: datetime, recent_sent_ms: list, policy) -> tuple | None:
    """Why and until when (epoch ms) a message due now must wait, or None to send now.
    ``recent_sent_ms``: the SMS sent within the hour that ``sms_limit`` counts."""
    if waits_out_quiet_hours(message):
        until = quiet_until(now, policy.quiet_start, policy.quiet_end)
        if until is not None:
            return "quiet_hours", clock.to_ms(until)
    limit = sms_limit(message, policy)
    if limit is not None:
        until_ms = rate_limited_until(recent_sent_ms, clock.to_ms(now), limit.per_hour)
        if until_ms is not None:
            return limit.reason, until_ms
    return None
