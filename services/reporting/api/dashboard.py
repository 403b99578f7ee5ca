"""The dashboard page, served by reporting with every asset local (no CDN, no build).

The page itself is public and holds no figures: it asks for a token (kept in the
browser's localStorage) and calls the JSON API with it, so station staff see their
station and district admins the whole district, exactly as through the API.
"""

import json
from pathlib import Path

from werkzeug.wrappers import Response

from services.common.http import ApiError, Route, route
from services.common.vocabulary import district, stations

ASSETS = Path(__file__).parents[1] / "dashboard"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Everything from this origin only: a CDN or an injected inline script would not run.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
}

routes: list[Route] = []


def _page():
    places = [{"id": key, "name": value["name"]} for key, value in stations().items()]
    html = (ASSETS / "index.html").read_text(encoding="utf-8")
    return html.replace("__STATIONS__", json.dumps(places, ensure_ascii=False)).replace(
        "__DISTRICT__", district()["name"]
    )


@route(routes, "/dashboard", public=True)
def get_dashboard(call):
    """The dashboard page: figures, charts, station and period selectors."""
    return Response(_page(), content_type="text/html; charset=utf-8", headers=HEADERS)


@route(routes, "/dashboard/assets/<name>", public=True, errors=(404,))
def get_dashboard_asset(call, name):
    """A script or style sheet of the dashboard."""
    path = ASSETS / name
    if "/" in name or path.suffix not in CONTENT_TYPES or not path.is_file():
        raise ApiError(404, "not_found", "no such asset")
    return Response(path.read_bytes(), content_type=CONTENT_TYPES[path.suffix], headers=HEADERS)
