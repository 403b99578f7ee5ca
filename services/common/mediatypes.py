"""Media types (``Content-Type`` on HTTP, ``content_type`` on AMQP, a CloudEvent's
``datacontenttype``) parsed with their parameters and compared by type.

``application/cloudevents+json; charset=utf-8`` is ``application/cloudevents+json``
with a charset: clients and the CloudEvents bindings' own examples send parameters, so
comparing whole strings refuses what is meant. Types, subtypes and parameter names are
case-insensitive (RFC 9110 8.3.1); so is the charset's value.
"""

import codecs
import re
from dataclasses import dataclass, field

_WORD = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_ESSENCE = re.compile(rf"\s*({_WORD})/({_WORD})\s*")
_PARAMETER = re.compile(rf'\s*;\s*(?:({_WORD})\s*=\s*({_WORD}|"(?:[^"\\]|\\.)*")\s*)?')
_UNESCAPE = re.compile(r"\\(.)")


class MediaTypeError(ValueError):
    """A content type that is not ``type/subtype`` followed by ``; name=value`` pairs."""


@dataclass(frozen=True)
class MediaType:
    type: str  # lower case: "application"
    subtype: str  # lower case: "cloudevents+json"
    params: dict[str, str] = field(default_factory=dict, compare=False)  # names lower case

    @property
    def essence(self) -> str:
        """``type/subtype``, what two media types are compared by."""
        return f"{self.type}/{self.subtype}"

    @property
    def charset(self) -> str | None:
        value = self.params.get("charset")
        return value.lower() if value else None

    def is_json(self) -> bool:
        """JSON: ``application/json``, ``text/json`` or any ``+json`` structured suffix."""
        return self.essence in ("application/json", "text/json") or self.subtype.endswith("+json")

    def __str__(self) -> str:
        return self.essence + "".join(f"; {name}={value}" for name, value in self.params.items())


def parse(text: str | None) -> MediaType | None:
    """The media type of a header value; None when there is none (absent or blank).
    Raises MediaTypeError for anything else that is not a media type."""
    if text is None or not str(text).strip():
        return None
    text = str(text)
    match = _ESSENCE.match(text)
    if not match:
        raise MediaTypeError(f"{text[:100]!r} is not a media type (type/subtype)")
    params: dict[str, str] = {}
    position = match.end()
    while position < len(text):
        parameter = _PARAMETER.match(text, position)
        if not parameter or parameter.end() == position:
            raise MediaTypeError(
                f"{text[:100]!r}: malformed parameters after {text[:position][:100]!r}"
            )
        name, value = parameter.group(1), parameter.group(2)
        if name:
            if value.startswith('"'):
                value = _UNESCAPE.sub(r"\1", value[1:-1])
            params.setdefault(name.lower(), value)
        position = parameter.end()
    return MediaType(match.group(1).lower(), match.group(2).lower(), params)


def same_type(a: "MediaType | str | None", b: "MediaType | str | None") -> bool:
    """Whether two media types are the same type, whatever their parameters."""
    first = parse(a) if isinstance(a, str) or a is None else a
    second = parse(b) if isinstance(b, str) or b is None else b
    return first is not None and second is not None and first.essence == second.essence


def decode_text(raw: bytes, media: MediaType | None, default: str = "utf-8") -> str:
    """The text of a body in the charset its media type names (``default`` if none).
    Raises ValueError naming the charset when it is unknown or the bytes are not in it."""
    charset = (media.charset if media else None) or default
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        raise ValueError(f"unknown charset {charset!r}") from None
    if not getattr(codec, "_is_text_encoding", True):  # base64, zlib, ...: not a charset
        raise ValueError(f"unknown charset {charset!r}")
    try:
        return raw.decode(codec.name)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"the body is not {charset} text: {exc.reason} at byte {exc.start}"
        ) from None
