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
`unanswered` counts requests without a final response (must be 0)."""
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
        results.append({"scenario": scenario, "system": system, "load": load, "metrics": metrics})
    # Ratios fedgw / kamailio for the same scenario and load (medians).
    ratios = []
    for r in results:
        if r["system"] != "fedgw":
            continue
        for k in results:
            if k["system"] == "kamailio" and k["scenario"] == r["scenario"] and k["load"] == r["load"]:
                ratio = OrderedDict()
                for n, s in r["metrics"].items():
                    if n not in QUIET and n in k["metrics"] and k["metrics"][n]["median"]:
                        ratio[n] = round(s["median"] / k["metrics"][n]["median"], 3)
                ratios.append({"scenario": r["scenario"], "load": r["load"], "fedgw_over_kamailio": ratio})
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


def fmt(value):
    if isinstance(value, float):
        return "%.3g" % value if abs(value) < 100 else "%.0f" % value
    return str(value)


def print_table(doc):
    scenario = None
    for r in doc["results"]:
        if r["scenario"] != scenario:
            scenario = r["scenario"]
            print("\n== %s ==" % scenario)
        cells = ["%s %s (%s-%s)" % (n, fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))
                 for n, s in r["metrics"].items() if n not in QUIET]
        print("%-9s %-16s %s" % (r["system"], r["load"], "; ".join(cells)))
    if doc["ratios"]:
        print("\n== fedgw / kamailio (medians) ==")
        for q in doc["ratios"]:
            print("%-14s %-16s %s" % (q["scenario"], q["load"],
                                       "; ".join("%s %sx" % (n, v) for n, v in q["fedgw_over_kamailio"].items())))


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
