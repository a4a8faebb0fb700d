#!/usr/bin/env python3
"""Figures of bench/run: one JSON object per measured run in RUNS.jsonl,
summarised as median with min-max per (scenario, system, load) and metric.

usage:
  benchlib.py add-row RUNS.jsonl SCENARIO SYSTEM LOAD RUN metric=value...
  benchlib.py stats VALUE...                 -> "median min max"
  benchlib.py summarize RUNS.jsonl OUT.json [key=value...]   (key=value: run metadata)
  benchlib.py paired RUNS.jsonl SCENARIO SYSTEM BASE_LOAD METRIC...
      -> per run, each other load's change against BASE_LOAD in the same run, as rows
         "<load>_vs_<BASE_LOAD>" with METRIC_change_pct (runs of one repeat are adjacent in time,
         so the slow drift of a shared machine cancels out of the pair)
Metric names end in their unit (msg_s, p50_ms, cpu_us_per_msg, rss_kb, ...);
`unanswered` counts requests without a final response (must be 0).
Rows with steal_ms and seconds (side_by_side) also get the latencies of their calm runs: runs in
which the hypervisor held the VM's CPUs at most CALM_STEAL_MS_PER_S ms per second of the run."""
import json, statistics, sys, time
from collections import OrderedDict


def number(text):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def stats(values):
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1], "runs": len(values)}


def add_row(path, scenario, system, load, run, *pairs):
    metrics = OrderedDict()
    for pair in pairs:
        name, _, value = pair.partition("=")
        metrics[name] = number(value)
    row = {"scenario": scenario, "system": system, "load": load, "run": int(run), "metrics": metrics,
           "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def summarize(path, out, *meta):
    groups = OrderedDict()
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                groups.setdefault((row["scenario"], row["system"], row["load"]), []).append(row)
    results = []
    for (scenario, system, load), rows in groups.items():
        names = OrderedDict((n, None) for r in rows for n in r["metrics"])
        metrics = OrderedDict()
        for n in names:
            values = [r["metrics"][n] for r in rows if isinstance(r["metrics"].get(n), (int, float))]
            if values:
                metrics[n] = stats(values)
        result = {"scenario": scenario, "system": system, "load": load, "metrics": metrics}
        calm = calm_summary(rows)
        if calm:
            result["calm"] = calm
        results.append(result)
    # Ratios fedgw / kamailio for the same scenario and load (medians).
    ratios = []
    for r in results:
        if r["system"] != "fedgw":
            continue
        for k in results:
            if k["system"] == "kamailio" and k["scenario"] == r["scenario"] and k["load"] == r["load"]:
                ratio_row = {"scenario": r["scenario"], "load": r["load"],
                             "fedgw_over_kamailio": median_ratios(r["metrics"], k["metrics"])}
                calm_ratio = median_ratios(r.get("calm", {}).get("metrics", {}),
                                           k.get("calm", {}).get("metrics", {}))
                if calm_ratio:
                    ratio_row["calm_fedgw_over_kamailio"] = calm_ratio
                ratios.append(ratio_row)
    doc = OrderedDict(meta=OrderedDict(p.partition("=")[::2] for p in meta), results=results, ratios=ratios)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print_table(doc)


def paired(path, scenario, system, base_load, *names):
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [r for r in rows if r["scenario"] == scenario and r["system"] == system]
    base = {r["run"]: r["metrics"] for r in rows if r["load"] == base_load}
    loads = OrderedDict((r["load"], None) for r in rows if r["load"] != base_load and "_vs_" not in r["load"])
    for load in loads:
        for r in rows:
            if r["load"] != load or r["run"] not in base:
                continue
            changes = []
            for n in names:
                was, now = base[r["run"]].get(n), r["metrics"].get(n)
                if isinstance(was, (int, float)) and isinstance(now, (int, float)) and was:
                    changes.append("%s_change_pct=%.1f" % (n, (now / was - 1) * 100))
            if changes:
                add_row(path, scenario, system, "%s_vs_%s" % (load, base_load), r["run"], *changes)


# Bookkeeping figures: kept in the JSON, left out of the printed table and the ratios.
QUIET = {"answered", "seconds", "sipp_rc", "rc", "fedua_rc", "partners"}
# Conditions of the machine during a run, not figures of a system: printed, never made a ratio.
NOT_RATIOS = {"steal_ms"}

# A run is calm when the hypervisor held the VM's CPUs (steal, bench_steal_ms) for at most this many
# ms per second of the run, about 0.5 % of 2 CPUs. Busier hosts stall a woken vCPU for tens of ms,
# whichever program waits on it: those runs' latency tails are the host's (README, "Stalls of the VM").
CALM_STEAL_MS_PER_S = 10.0
CALM_METRICS = ("p50_ms", "p99_ms")


def median_ratios(mine, theirs):
    """Ratio of the medians for each metric both have, but QUIET and NOT_RATIOS ones."""
    ratio = OrderedDict()
    for n, s in mine.items():
        if n not in QUIET and n not in NOT_RATIOS and n in theirs and theirs[n]["median"]:
            ratio[n] = round(s["median"] / theirs[n]["median"], 3)
    return ratio


def is_calm(row):
    steal, seconds = row["metrics"].get("steal_ms"), row["metrics"].get("seconds")
    if not isinstance(steal, (int, float)) or not isinstance(seconds, (int, float)) or seconds <= 0:
        return None
    return steal / seconds <= CALM_STEAL_MS_PER_S


def calm_summary(rows):
    """{"runs": calm runs, "of": runs with steal figures, "metrics": CALM_METRICS over the calm runs}."""
    verdicts = [(r, is_calm(r)) for r in rows]
    judged = [r for r, verdict in verdicts if verdict is not None]
    if not judged:
        return None
    calm = [r for r, verdict in verdicts if verdict]
    metrics = OrderedDict()
    for n in CALM_METRICS:
        values = [r["metrics"][n] for r in calm if isinstance(r["metrics"].get(n), (int, float))]
        if values:
            metrics[n] = stats(values)
    return OrderedDict(runs=len(calm), of=len(judged), steal_ms_per_s_max=CALM_STEAL_MS_PER_S, metrics=metrics)


def fmt(value):
    if isinstance(value, float):
        return "%.3g" % value if abs(value) < 100 else "%.0f" % value
    return str(value)


def cells(metrics):
    return "; ".join("%s %s (%s-%s)" % (n, fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))
                     for n, s in metrics.items() if n not in QUIET)


def ratio_cells(ratio):
    return "; ".join("%s %sx" % (n, v) for n, v in ratio.items())


def print_table(doc):
    scenario = None
    for r in doc["results"]:
        if r["scenario"] != scenario:
            scenario = r["scenario"]
            print("\n== %s ==" % scenario)
        print("%-9s %-16s %s" % (r["system"], r["load"], cells(r["metrics"])))
        calm = r.get("calm")
        if calm:
            print("%-9s %-16s calm runs %d of %d (steal <= %g ms/s)%s" % (
                "", "", calm["runs"], calm["of"], calm["steal_ms_per_s_max"],
                ": " + cells(calm["metrics"]) if calm["metrics"] else ""))
    if doc["ratios"]:
        print("\n== fedgw / kamailio (medians) ==")
        for q in doc["ratios"]:
            print("%-14s %-16s %s" % (q["scenario"], q["load"], ratio_cells(q["fedgw_over_kamailio"])))
            if q.get("calm_fedgw_over_kamailio"):
                print("%-14s %-16s calm runs: %s" % ("", "", ratio_cells(q["calm_fedgw_over_kamailio"])))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    command, args = argv[1], argv[2:]
    if command == "add-row" and len(args) >= 5:
        add_row(*args)
    elif command == "stats" and args:
        s = stats([float(a) for a in args])
        print(fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))
    elif command == "summarize" and len(args) >= 2:
        summarize(*args)
    elif command == "paired" and len(args) >= 5:
        paired(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
