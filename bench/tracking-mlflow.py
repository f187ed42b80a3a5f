"""MLflow side of the tracking benchmark (issue 4): the workloads of bench/tracking-log.ts, run with MLflow.

1. Log 1,000,000 metric points (10 keys x 100k steps) into one run with MlflowClient().log_batch, 1000
   metrics per call (MLflow's per-request limit), then end the run. Wall time and peak RSS growth.
2. Read that run's 100k-point history of one key (get_metric_history), median of 3.
3. Create 10,000 runs in one experiment, each with the params/tags/metrics tracking-log.ts gives its
   synthetic runs (one log_batch per run), then search them with the same filter and order as mtrack
   (median of 3, and the first call on its own).

Each store gets a fresh directory under a temp dir (removed at the end): the file store
(file:///tmp/...), and the SQLite store (sqlite:///...), which is MLflow 3's default when no ./mlruns
exists. A phase that overruns --budget seconds stops early; the table then says how far it got, and any
extrapolated figure is marked "extrapolated".

Run: bench/.venv/bin/python bench/tracking-mlflow.py [--stores file,sqlite] [--budget 900] [--json out.json]
"""

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

KEYS = 10
STEPS = 100_000
RUNS = 10_000
BATCH = 1000  # MLflow's limit on metrics per log_batch request
FILTER = "metrics.val_acc > 0.9 and params.lr = '0.001'"
ORDER_BY = ["metrics.val_acc DESC"]
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRss:
    """Samples this process's RSS every 20 ms; ru_maxrss cannot be reset between phases."""

    def __init__(self):
        self.base = rss_bytes()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def growth(self):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        return self.peak - self.base


def bench_store(label, uri, args, out):
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    res = {"store": label, "uri": uri}
    out.append(res)

    # 1. Logging.
    exp = client.create_experiment("bench-log")
    run_id = client.create_run(exp, run_name="bench").info.run_id
    keys = [f"metric_{k}" for k in range(args.keys)]
    steps_per_batch = BATCH // args.keys
    rss = PeakRss()
    t0 = time.perf_counter()
    step = 0
    while step < args.steps:
        ts = int(time.time() * 1000)
        end = min(step + steps_per_batch, args.steps)
        batch = [Metric(keys[k], s * 0.001 + k, ts, s) for s in range(step, end) for k in range(args.keys)]
        client.log_batch(run_id, metrics=batch, synchronous=True)
        step = end
        if time.perf_counter() - t0 > args.budget:
            break
    log_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    client.set_terminated(run_id, "FINISHED")
    end_s = time.perf_counter() - t1
    res["log_points"] = step * args.keys
    res["log_ms"] = log_s * 1000
    res["end_ms"] = end_s * 1000
    res["log_total_ms"] = (log_s + end_s) * 1000
    res["log_complete"] = step == args.steps
    if step < args.steps:
        res["log_total_ms_extrapolated"] = res["log_total_ms"] * args.steps / step
    res["rss_growth_bytes"] = rss.growth()
    print(f"[{label}] logged {res['log_points']} points in {log_s:.1f} s", file=sys.stderr, flush=True)

    # 2. One history (as much of it as was logged).
    times = []
    points = 0
    for _ in range(3):
        t = time.perf_counter()
        points = len(client.get_metric_history(run_id, keys[0]))
        times.append((time.perf_counter() - t) * 1000)
    res["history_points"] = points
    res["history_ms"] = statistics.median(times)
    print(f"[{label}] history {points} points in {res['history_ms']:.0f} ms", file=sys.stderr, flush=True)

    # 3. 10k runs with the shape of tracking-log.ts's synthetic runs, then a search.
    exp = client.create_experiment("bench-search")
    t0 = time.perf_counter()
    created = 0
    for i in range(args.runs):
        start = 1_764_000_000_000 + i * 1000
        rid = client.create_run(exp, start_time=start, run_name=f"run-{i}").info.run_id
        params = {"lr": ["0.001", "0.01", "0.1"][i % 3], "epochs": str(i % 20), "batch": "64", "opt": "adam", "seed": str(i)}
        tags = {"phase": f"phase_{i % 3}", "owner": "bench", "note": "synthetic"}
        metrics = [
            Metric(k, ((i * 7919 + j) % 1000) / 1000, 1_764_000_000_000 + i, 99)
            for j, k in enumerate(["val_acc", "val_loss", "acc", "loss", "lr"])
        ]
        client.log_batch(
            rid,
            metrics=metrics,
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
            synchronous=True,
        )
        client.set_terminated(rid, "FAILED" if i % 10 == 0 else "FINISHED", end_time=start + 500)
        created = i + 1
        if created % 1000 == 0:
            print(f"[{label}] {created} runs, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        if time.perf_counter() - t0 > args.budget:
            break
    res["runs_created"] = created
    res["runs_create_ms"] = (time.perf_counter() - t0) * 1000
    times = []
    matched = 0
    for _ in range(3):
        t = time.perf_counter()
        found = client.search_runs([exp], filter_string=FILTER, order_by=ORDER_BY, max_results=args.runs)
        times.append((time.perf_counter() - t) * 1000)
        matched = len(found)
    res["search_matched"] = matched
    res["search_first_ms"] = times[0]
    res["search_ms"] = statistics.median(times)
    print(f"[{label}] search over {created} runs: {res['search_ms']:.0f} ms", file=sys.stderr, flush=True)


def fmt_ms(x):
    return f"{x / 1000:.1f} s" if x >= 10_000 else f"{x:.0f} ms"


def print_table(results, args):
    rows = [("what", *[r["store"] for r in results])]
    rows.append(
        (
            f"log {args.keys * args.steps} points (log_batch x{BATCH}) + end run",
            *[
                fmt_ms(r["log_total_ms"])
                + ("" if r["log_complete"] else f" for {r['log_points']} points (budget hit; extrapolated {fmt_ms(r['log_total_ms_extrapolated'])})")
                for r in results
            ],
        )
    )
    rows.append(("RSS growth (log)", *[f"{r['rss_growth_bytes'] / 1024 / 1024:.1f} MB" for r in results]))
    rows.append(("metric history, median of 3", *[f"{fmt_ms(r['history_ms'])} ({r['history_points']} points)" for r in results]))
    rows.append(("create runs (untimed in mtrack)", *[f"{r['runs_created']} runs in {fmt_ms(r['runs_create_ms'])}" for r in results]))
    rows.append(("search: filter + order, median of 3", *[f"{fmt_ms(r['search_ms'])} ({r['search_matched']} match)" for r in results]))
    rows.append(("search: first call", *[fmt_ms(r["search_first_ms"]) for r in results]))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    line = lambda r: " | ".join(x.ljust(w) for x, w in zip(r, widths))  # noqa: E731
    print(line(rows[0]))
    print("-|-".join("-" * w for w in widths))
    for r in rows[1:]:
        print(line(r))
    print(f"(load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--stores", default="file,sqlite", help="comma-separated: file, sqlite")
    p.add_argument("--keys", type=int, default=KEYS)
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--runs", type=int, default=RUNS)
    p.add_argument("--budget", type=float, default=900, help="seconds per logging / run-creation phase")
    p.add_argument("--json", help="also write the numbers to this file")
    args = p.parse_args()

    # MLflow 3 refuses the file store (deprecated, "maintenance mode") unless told otherwise.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    import mlflow

    results = []
    tmp = tempfile.mkdtemp(prefix="mlflow-bench-")
    try:
        for store in args.stores.split(","):
            d = os.path.join(tmp, store)
            os.makedirs(d)
            uri = f"file://{d}/mlruns" if store == "file" else f"sqlite:///{d}/mlflow.db"
            bench_store(store, uri, args, results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"mlflow {mlflow.__version__}, python {sys.version.split()[0]}")
    print_table(results, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mlflow": mlflow.__version__, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
