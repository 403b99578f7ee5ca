"""The benchmark's figures as text, and each phase's rate against the baselines."""

from benchmarks import apis


def ratios(results):
    """Each phase's end-to-end rate against the raw baselines: one by one (a confirm per
    publish, single upserts) and in batches (confirms per batch, bulk_write)."""
    baseline = results["baselines"]
    against = {
        "broker": baseline["broker"]["round_trip_per_s"],
        "broker_batches": baseline["broker_batches"]["round_trip_per_s"],
        "store_upserts": baseline["store"]["upsert_single_per_s"],
        "store_bulk_write": baseline["store"]["upsert_bulk_per_s"],
    }
    for p in results["phases"]:
        for name, rate in against.items():
            p[f"ratio_to_{name}"] = round(p["end_to_end_per_s"] / rate, 4) if rate else None


def report(results):
    lines = [
        f"machine: {results['machine']}",
        f"baselines: {results['baselines']}",
        "",
        "| phase | accepted | posted/s | end to end/s | x broker | x broker batched | "
        "x bulk_write | store commands (documents)/req | deliveries/req | POST p50/p99 ms | "
        "->assigned p50/p95/p99 | ->SMS p50/p95/p99 | ->projection p50/p95/p99 | drain s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in results["phases"]:
        lat = p["latency_ms"]

        def fmt(s, lat=lat):
            return "/".join(str(lat[s][k]) for k in ("p50", "p95", "p99")) if lat[s] else "-"

        post = f"{lat['post']['p50']}/{lat['post']['p99']}" if lat["post"] else "-"
        costs = p.get("per_request") or {}
        lines.append(
            f"| {p['name']} | {p['requests']} | {p['post_rate']} "
            f"| {p['end_to_end_per_s']} "
            f"| {p['ratio_to_broker']:.1%} | {p['ratio_to_broker_batches']:.1%} "
            f"| {p['ratio_to_store_bulk_write']:.1%} | {costs.get('store_commands')} "
            f"({costs.get('store_operations')}) "
            f"| {costs.get('deliveries')} | {post} | {fmt('assigned')} | {fmt('sms')} "
            f"| {fmt('projected')} | {p['drain_s']} |"
        )
    lines.append("")
    lines.append("| phase | process | CPU % of a core | CPU ms per request | peak RSS MB |")
    lines.append("|---|---|---|---|---|")
    for p in results["phases"]:
        for name, usage in sorted(p["usage"]["processes"].items()):
            lines.append(
                f"| {p['name']} | {name} | {usage['cpu_percent']} | "
                f"{usage['cpu_ms_per_request']} | {usage['peak_rss_mb']} |"
            )
        lines.append(
            f"| {p['name']} | **all** (load average {p['usage']['loadavg'][0]}) | | "
            f"{p['usage']['cpu_ms_per_request_total']} | |"
        )
    for p in results["phases"]:
        operations = (p.get("per_request") or {}).get("top_operations")
        if operations:
            lines.append(
                f"\n{p['name']}: store documents per request by command: "
                + ", ".join(f"{name} {n}" for name, n in operations.items())
            )
    lines.append(f"\nexactly once: {results['exactly_once']}")
    for transport, storm_result in (results.get("storm") or {}).items():
        lines.append(
            f"storm over {transport}: accepted {storm_result['accepted_per_s']}/s, "
            f"end to end {storm_result['end_to_end_per_s']}/s: {storm_result}"
        )
        lines += storm_beside_pipeline(transport, storm_result, results.get("baselines") or {})
    for transport, bulk_result in (results.get("bulk") or {}).items():
        lines.append(f"bulk over {transport}: {bulk_result}")
    lines += history_lines(results)
    lines += apis.lines(results)
    return "\n".join(lines)


def history_lines(results):
    """Each run's history (size per collection, build time) and its maximum rate against
    the run on the empty store (BENCH_HISTORY=0,N): the issue's target is >= 0.9x."""
    runs = results.get("history_runs") or []
    if not runs:
        return []
    empty = next((r for r in runs if not r["requests"]), None)
    lines = [
        "",
        "| history (requests) | build s (store writes, indexes) | documents | "
        "max rate end to end/s | x the empty store |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        build = run.get("build") or {}
        documents = build.get("documents") or {}
        for name, rate in sorted(run["max_rate_end_to_end_per_s"].items()):
            plain = name.split("] ")[-1]
            base = (empty or {}).get("max_rate_end_to_end_per_s", {}).get(plain)
            versus = f"{rate / base:.2f}" if base and run is not empty else "-"
            lines.append(
                f"| {run['requests']} | {build.get('seconds', '-')} "
                f"({build.get('write_seconds', '-')}, {build.get('index_seconds', '-')})"
                f" | {sum(documents.values())} | {name}: {rate} | {versus} |"
            )
        if documents:
            lines.append(
                "history documents per collection: "
                + ", ".join(f"{name} {count}" for name, count in sorted(documents.items()))
            )
    return lines


def storm_beside_pipeline(transport, storm_result, baselines):
    """The storm's CPU per delivery and per store document beside the batched pipeline's
    of the same run (the broker round trip in batches, the store's bulk upserts)."""
    units = storm_result.get("unit_costs")
    if not units:
        return []
    batches, store = baselines.get("broker_batches") or {}, baselines.get("store") or {}
    per_event = storm_result.get("per_event") or {}
    return [
        f"storm over {transport}, per event: {storm_result.get('cpu_ms_per_event_total')} ms "
        f"CPU, {per_event.get('deliveries')} deliveries, {per_event.get('store_operations')} "
        f"store documents ({per_event.get('store_commands')} commands); CPU ms per delivery: "
        f"services {units['services_cpu_ms_per_delivery']} (pipeline client "
        f"{batches.get('client_cpu_ms_per_message')}), RabbitMQ "
        f"{units['broker_cpu_ms_per_delivery']} (pipeline "
        f"{batches.get('broker_cpu_ms_per_message')}); per store document "
        f"{units['store_cpu_ms_per_document']} (bulk upserts "
        f"{store.get('store_cpu_ms_per_document')})"
    ]
