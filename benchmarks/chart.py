"""The benchmark's chart, as a self-contained SVG (no plotting library needed)."""

import math
from html import escape

WIDTH, BAR_H, LEFT = 860, 22, 300


def _bars(title, rows, top, log=True):
    """Horizontal bars; ``rows``: (label, value, note, colour)."""
    parts = [f'<text x="10" y="{top}" font-size="15" font-weight="bold">{escape(title)}</text>']
    values = [v for _, v, _, _ in rows if v]
    if not values:
        return parts, top + 30
    high = max(values)
    span = WIDTH - LEFT - 150
    scale = (
        (lambda v: span * math.log10(max(v, 1)) / math.log10(high * 1.2))
        if log
        else (lambda v: span * v / (high * 1.1))
    )
    y = top + 14
    for label, value, note, colour in rows:
        length = scale(value) if value else 0
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        parts.append(
            f'<rect x="{LEFT}" y="{y}" width="{length:.1f}" height="{BAR_H - 4}" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{LEFT + length + 6:.1f}" y="{y + 15}" font-size="12">{escape(note)}</text>'
        )
        y += BAR_H
    return parts, y + 24


def svg(results):
    base = results["baselines"]
    rows = [
        (
            "broker: publish+confirm → consume",
            base["broker"]["round_trip_per_s"],
            f"{base['broker']['round_trip_per_s']:g}/s",
            "#7f7f7f",
        ),
        (
            "store: upserts one at a time",
            base["store"]["upsert_single_per_s"],
            f"{base['store']['upsert_single_per_s']:g}/s",
            "#7f7f7f",
        ),
        (
            f"store: bulk_write upserts ({base['store']['batch']})",
            base["store"]["upsert_bulk_per_s"],
            f"{base['store']['upsert_bulk_per_s']:g}/s",
            "#bdbdbd",
        ),
    ]
    for p in results["phases"]:
        rows.append(
            (
                f"system {p['name']}",
                p["end_to_end_per_s"],
                f"{p['end_to_end_per_s']:g} requests/s ({p['ratio_to_broker']:.1%} of broker)",
                "#1f77b4",
            )
        )
    parts, y = _bars("Throughput (log scale): requests/s end to end vs raw operations/s", rows, 30)
    colours = {"assigned": "#2ca02c", "sms": "#ff7f0e", "projected": "#d62728"}
    latency_rows = []
    for p in results["phases"]:
        for stage in ("assigned", "sms", "projected"):
            lat = p["latency_ms"].get(stage)
            if lat:
                latency_rows.append(
                    (
                        f"{p['name']}: POST → {stage} p99",
                        lat["p99"],
                        f"p50 {lat['p50']:g} / p95 {lat['p95']:g} / p99 {lat['p99']:g} ms",
                        colours[stage],
                    )
                )
    more, y = _bars("Latency from the POST (log scale, ms)", latency_rows, y + 10)
    parts += more
    machine = results["machine"]
    parts.append(
        f'<text x="10" y="{y}" font-size="11" fill="#555">'
        f"{escape(machine['date_utc'])} · {machine['cpus']} CPUs · Python "
        f"{escape(machine['python'])} · load average at start "
        f"{machine['loadavg_at_start'][0]:g} · store nx-27017 (embedded, SQLite) · "
        f"phases of {results['settings']['phase_s']:g} s</text>"
    )
    height = y + 20
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
        + "\n".join(parts)
        + "\n</svg>\n"
    )
