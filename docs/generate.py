"""Generate the documents that describe the code, from the code: ``python -m docs.generate``
(``make docs``).

- ``docs/events.md`` and ``docs/asyncapi.json``: the events catalogue, from
  ``services.common.contracts.CATALOGUE``, the envelope schema and the entrypoints found
  on the service classes;
- ``docs/inbound-asyncapi.json``: what other government systems send to intake;
- ``docs/openapi/<service>.json``: each HTTP API, from the schemas its routes are
  served with (``services.common.openapi``).

``render()`` returns the files as text so a test can check that the committed files
are current; ``--check`` exits non-zero, writing nothing, when a file differs.
The output is deterministic: no clock, no random ids, sorted JSON keys.
"""

import importlib
import json
import sys
from pathlib import Path

from docs.asyncapi import render_asyncapi
from docs.events_md import render_events_md
from docs.inbound_asyncapi import render_inbound_asyncapi
from services.common import config
from services.common.openapi import document

ROOT = Path(__file__).resolve().parent.parent
EVENTS_MD = "docs/events.md"
ASYNCAPI_JSON = "docs/asyncapi.json"
INBOUND_ASYNCAPI_JSON = "docs/inbound-asyncapi.json"


def render_openapi(service):
    app = importlib.import_module(f"services.{service}.api").create_app(config.settings({}))
    return (
        json.dumps(document(service, app.routes), ensure_ascii=False, indent=2, sort_keys=True)
        + "\n"
    )


def render():
    """{path relative to the repository root: text} of every generated file."""
    files = {
        EVENTS_MD: render_events_md(),
        ASYNCAPI_JSON: render_asyncapi(),
        INBOUND_ASYNCAPI_JSON: render_inbound_asyncapi(),
    }
    for service in config.SERVICES:
        files[f"docs/openapi/{service}.json"] = render_openapi(service)
    return files


def stale(files=None):
    """The generated paths whose file on disk differs from ``render()``."""
    files = render() if files is None else files
    return [
        path
        for path, text in files.items()
        if not (ROOT / path).exists() or (ROOT / path).read_text(encoding="utf-8") != text
    ]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    files = render()
    if "--check" in argv:
        out_of_date = stale(files)
        for path in out_of_date:
            print(f"{path} is out of date; run make docs", file=sys.stderr)
        return 1 if out_of_date else 0
    for path, text in files.items():
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
