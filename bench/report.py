"""The results of `bench/run.py` as a markdown table, each figure next to the
target the project aims at and whether this run met it."""


def markdown(r):
    rows = []

    def row(figure, measured, target, met):
        rows.append(f"| {figure} | {measured} | {target} | {'yes' if met else '**no**'} |")

    p = r["proxy"]
    row("1. gateway vs nginx, small proxied GET (32 connections)",
        f"{p['gateway']['rps']:.0f} vs {p['nginx']['rps']:.0f} req/s (×{p['throughput_ratio']:.2f}); "
        f"p99 {p['gateway']['p99_ms']:.2f} vs {p['nginx']['p99_ms']:.2f} ms (×{p['p99_ratio']:.2f})",
        "throughput ≥ nginx (×1.00)", p["throughput_ratio"] >= 1.0)
    a = r["added_latency"]
    row("2. gateway's added latency (1 connection)",
        f"p50 +{a['added_p50_ms']:.2f} ms, p99 +{a['added_p99_ms']:.2f} ms "
        f"(direct p50 {a['direct']['p50_ms']:.2f} ms)", "reported", True)
    g = r["grpc_client"]
    row("3. gRPC unary: comms client vs bare tonic channel",
        f"{g['comms']['ops_per_sec']:.0f} vs {g['bare']['ops_per_sec']:.0f} calls/s (×{g['ratio_throughput']:.2f})",
        "within 10% (×0.90)", g["ratio_throughput"] >= 0.9)
    b = r["publisher"]
    row("4. publishing, confirmed: comms broker vs raw lapin",
        f"{b['comms']['msgs_per_sec']:.0f} vs {b['lapin']['msgs_per_sec']:.0f} msg/s (×{b['ratio_throughput']:.2f})",
        "within 10% (×0.90)", b["ratio_throughput"] >= 0.9)
    o = r["orders"]
    row("5. orders placed end to end vs single-insert transactions (pgbench, 8 clients)",
        f"{o['orders_per_sec']:.0f} orders/s vs {o['pgbench_tps']:.0f} tps (×{o['ratio']:.2f})",
        "≥ a third (×0.33)", o["ratio"] >= 1 / 3)
    e = r["event_latency"]
    row(f"6. outbox commit → consumer effect at {e['rate']}/s",
        f"p50 {e['p50_ms']:.1f} ms, p99 {e['p99_ms']:.1f} ms", "p99 < 20 ms", e["p99_ms"] < 20)
    idle, load = r["memory_idle_mb"], r["memory_load_mb"]
    # The peak of the whole run (VmHWM): what a container's memory limit
    # must leave room for. Older results have none.
    peak = r.get("memory_peak_mb") or {}
    row("8. resident memory idle / under order load" + (" / peak of the run (VmHWM)" if peak else ""),
        ", ".join(f"{s} {idle[s]:.0f}/{load[s]:.0f}" + (f"/{peak[s]:.0f}" if peak else "") + " MB"
                  for s in sorted(idle)), "each < 30 MB idle", all(v < 30 for v in idle.values()))

    busy = sorted(o.get("cores_busy_during_load", {}).items(), key=lambda kv: -kv[1])
    profile = ["", "### Where the time goes while orders are placed (figure 5)", "",
               "Cores busy per process during the order load (2 cores in all; the load generator is the rest):", "",
               "| process | cores busy |", "|---|---:|"] + [f"| {name} | {share:.2f} |" for name, share in busy]
    cost = o.get("database_cost_per_order")
    if cost:
        profile += ["", "What one order placed cost PostgreSQL, saga included (counted once the sagas settled; "
                    f"{cost['wal_flushes']:.1f} WAL flushes per order in all):", "",
                    "| database | transactions per order | rows written per order |", "|---|---:|---:|"]
        profile += [f"| {db} | {cost['transactions'][db]:.1f} | {cost['rows_written'][db]:.1f} |"
                    for db in sorted(cost["transactions"])]
        profile.append(f"| all | {sum(cost['transactions'].values()):.1f} | {sum(cost['rows_written'].values()):.1f} |")

    grpc_cpu = ["", "### CPU per gRPC call (figure 3)", "",
                "Both processes share the 2 cores, so CPU per call decides calls per second:", "",
                "| channel | client µs/call | server µs/call |", "|---|---:|---:|"]
    for name in ("bare", "comms"):
        side = g[name]
        server = side.get("server_cpu_us_per_call")
        grpc_cpu.append(f"| {name} | {side['client_cpu_us_per_call']:.1f} | "
                        + ("—" if server is None else f"{server:.1f}") + " |")

    patterns = ["", "### 7. One call four ways", "",
                "| broker | pattern | p50 ms (1 in flight) | p99 ms | throughput (16 in flight) |", "|---|---|---:|---:|---:|"]
    for broker, figures in sorted(r["patterns"].items()):
        for name in ("rest", "grpc", "task", "event"):
            f = figures[name]
            patterns.append(f"| {broker} | {name} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {f['ops_per_sec']:.0f}/s |")

    meta = r["meta"]
    head = [f"Measured {meta['date']} on {meta['cores']} cores in {meta['seconds']} s"
            + (" (quick run)" if meta["quick"] else "") + ".", "",
            "| figure | measured | target | met |", "|---|---|---|---|"]
    return "\n".join(head + rows + grpc_cpu + patterns + profile) + "\n"
