"""JSON text from outside (HTTP bodies, AMQP payloads): refused cheaply when nested deeper
than any real document, before ``json.loads`` recurses into it.

``json.loads`` (and marshmallow after it) recurse once per level: a body of a few
thousand ``[`` raises RecursionError deep inside a request. The scan below is linear and
iterative: strings are cut out with one regular expression, the brackets left are turned
into +1/-1 and their running sum is the nesting depth, all in C loops.
"""

import json
import re
from array import array
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64  # our deepest document (a batch of events with a resident's contacts) is ~6

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1, +1, -1, -1 as signed bytes


class TooDeep(ValueError):
    """The text nests arrays and objects deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nested too deeply: arrays and objects deeper than {limit} levels")
        self.limit = limit


def nesting_depth(text: bytes | str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings
    do not count). Linear, no recursion; for invalid JSON an upper bound, good enough to
    refuse it."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if raw.count(b"[") + raw.count(b"{") == 0:
        return 0
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(accumulate(array("b", brackets.translate(_SIGNS)))))


def check_depth(text: bytes | str, limit: int = MAX_DEPTH) -> None:
    """Raise TooDeep when the text nests deeper than ``limit``."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # a text with fewer brackets than the limit cannot exceed it: skip the scan
    if raw.count(b"[") + raw.count(b"{") > limit and nesting_depth(raw) > limit:
        raise TooDeep(limit)


def loads(text: bytes | str, limit: int = MAX_DEPTH, **options: Any) -> Any:
    """``json.loads`` after the depth check: ValueError (TooDeep, JSONDecodeError,
    UnicodeDecodeError) for anything that is not a JSON text of at most ``limit`` levels;
    ``options`` go to ``json.loads`` (e.g. parse_constant)."""
    check_depth(text, limit)
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    return json.loads(text, **options)
