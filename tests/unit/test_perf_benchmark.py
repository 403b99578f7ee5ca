"""The benchmark's own logic without I/O: joining the observations of a request by its
ids, and the chart drawn from a results document."""

import xml.dom.minidom

from benchmarks import chart
from benchmarks.run import percentiles
from benchmarks.tracing import Tracer


def tracer():
    """A Tracer's bookkeeping only (no threads started, no connections opened)."""
    bare = Tracer.__new__(Tracer)
    import threading

    bare.lock = threading.Lock()
    bare.assigned, bare.sms, bare.sent, bare.projected = {}, {}, {}, {}
    return bare


def test_observations_are_joined_by_case_and_message_to_their_request():
    t = tracer()
    t.assigned["case-1"] = (1.0, "r-1")
    t.sms["case-1"] = 1.2
    t.sent["m-1"] = (1.3, "r-1", "case-1")
    t.projected["m-1"] = 1.5
    t.assigned["case-2"] = (2.0, "r-2")  # no SMS yet
    t.sms["case-9"] = 3.0  # an SMS of a case not seen assigned
    traces = t.timeline()
    assert traces["r-1"] == {"assigned": 1.0, "sms": 1.2, "sent": 1.3, "projected": 1.5}
    assert traces["r-2"] == {"assigned": 2.0}
    assert t.done(["r-1", "r-2", "r-3"]) == 1


def test_percentiles_are_nearest_rank():
    assert percentiles([]) is None
    figures = percentiles(list(range(1, 101)))
    assert figures == {"p50": 51, "p95": 96, "p99": 100, "max": 100}


def results():
    latency = {"p50": 80.0, "p95": 190.0, "p99": 230.0, "max": 270.0}
    return {
        "machine": {
            "date_utc": "2026-11-28T23:00:00+00:00",
            "cpus": 2,
            "python": "3.11.7",
            "loadavg_at_start": [5.0, 5.0, 5.0],
        },
        "settings": {"phase_s": 30},
        "baselines": {
            "broker": {"round_trip_per_s": 1100.0},
            "store": {"upsert_single_per_s": 1500.0, "upsert_bulk_per_s": 9000.0, "batch": 100},
        },
        "phases": [
            {
                "name": "max x1",
                "end_to_end_per_s": 25.0,
                "ratio_to_broker": 0.0227,
                "latency_ms": {
                    "post": latency,
                    "assigned": latency,
                    "sms": latency,
                    "projected": None,
                },
            }
        ],
    }


def test_the_chart_is_an_svg_naming_every_bar():
    drawn = chart.svg(results())
    # the SVG is drawn by our own chart module from our own numbers, not untrusted input
    document = xml.dom.minidom.parseString(drawn)  # noqa: S318
    texts = " ".join(node.firstChild.data for node in document.getElementsByTagName("text"))
    assert "broker: publish+confirm → consume" in texts
    assert "system max x1" in texts and "25 requests/s (2.3% of broker)" in texts
    assert "max x1: POST → sms p99" in texts
    assert "projected" not in texts  # no figure, no bar
    assert len(document.getElementsByTagName("rect")) == 1 + 4 + 2  # background, bars


def test_the_storm_is_priced_per_delivery_and_per_document_beside_the_pipeline():
    from benchmarks import report, storm

    usage = {
        "processes": {
            "intake-api": {"cpu_ms_per_request": 1.0},
            "casework": {"cpu_ms_per_request": 2.0},
            "rabbitmq (shared) 12": {"cpu_ms_per_request": 1.6},
            "nx-27017 (store)": {"cpu_ms_per_request": 4.0},
        }
    }
    costs = {"deliveries": 8.0, "store_operations": 20.0, "store_commands": 1.2}
    units = storm.unit_costs(usage, costs)
    assert units == {
        "services_cpu_ms_per_delivery": 0.375,
        "broker_cpu_ms_per_delivery": 0.2,
        "store_cpu_ms_per_document": 0.2,
    }
    line = report.storm_beside_pipeline(
        "http",
        {"unit_costs": units, "per_event": costs, "cpu_ms_per_event_total": 8.6},
        {
            "broker_batches": {"client_cpu_ms_per_message": 0.1, "broker_cpu_ms_per_message": 0.15},
            "store": {"store_cpu_ms_per_document": 0.07},
        },
    )[0]
    assert "8.6 ms CPU, 8.0 deliveries, 20.0 store documents" in line
    assert "services 0.375 (pipeline client 0.1)" in line
    assert "RabbitMQ 0.2 (pipeline 0.15)" in line
    assert "per store document 0.2 (bulk upserts 0.07)" in line
