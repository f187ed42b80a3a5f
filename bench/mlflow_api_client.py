"""The client side of bench/mlflow-api.ts: the same MLflow client calls against any tracking server.

Usage: python bench/mlflow_api_client.py <workload> [--points N] [--runs N] [--repeats N]
The tracking server comes from MLFLOW_TRACKING_URI (and MLFLOW_TRACKING_TOKEN). Prints one JSON object
with the wall time (ms) of each repeat; only the measured calls are on the clock.

Workloads:
  log_metric   N points with MlflowClient.log_metric, one call (one HTTP request) per point
  log_batch    the same N points with MlflowClient.log_batch (the client sends 1000 per request)
  search_setup create N finished runs (params, tags, 3 metrics each) in experiment "bench-search"
  search       search_runs over experiment "bench-search": all runs, and a filter + order_by
"""

import json
import sys
import time

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag


def arg(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def experiment_id(client, name):
    exp = client.get_experiment_by_name(name)
    return exp.experiment_id if exp else client.create_experiment(name)


def log_metric(client, points, repeats):
    exp = experiment_id(client, "bench-log")
    times = []
    for _ in range(repeats):
        run = client.create_run(exp)
        rid = run.info.run_id
        t0 = time.perf_counter()
        for i in range(points):
            client.log_metric(rid, "loss", 1.0 / (i + 1), timestamp=1_700_000_000_000 + i, step=i)
        times.append((time.perf_counter() - t0) * 1000)
        client.set_terminated(rid)
        assert len(client.get_metric_history(rid, "loss")) == points
    return times


def log_batch(client, points, repeats):
    exp = experiment_id(client, "bench-log")
    times = []
    for _ in range(repeats):
        run = client.create_run(exp)
        rid = run.info.run_id
        metrics = [Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(points)]
        t0 = time.perf_counter()
        client.log_batch(rid, metrics=metrics)
        times.append((time.perf_counter() - t0) * 1000)
        client.set_terminated(rid)
        assert len(client.get_metric_history(rid, "loss")) == points
    return times


def search_setup(client, runs):
    exp = experiment_id(client, "bench-search")
    for i in range(runs):
        run = client.create_run(exp, run_name=f"r{i}")
        client.log_batch(
            run.info.run_id,
            metrics=[
                Metric("val_acc", (i % 10) / 10 + i / 1e6, 1_700_000_000_000 + i, 0),
                Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, 0),
                Metric("epoch", float(i % 10), 1_700_000_000_000 + i, 0),
            ],
            params=[Param("lr", str(0.001 * (i % 7))), Param("optimizer", "adam" if i % 2 else "sgd")],
            tags=[RunTag("phase", "sweep")],
        )
        client.set_terminated(run.info.run_id)
    return []


def search(client, runs, repeats):
    exp = experiment_id(client, "bench-search")
    out = {"all": [], "filtered": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        found = client.search_runs([exp], max_results=runs)
        out["all"].append((time.perf_counter() - t0) * 1000)
        assert len(found) == runs, len(found)
        t0 = time.perf_counter()
        found = client.search_runs(
            [exp],
            filter_string="metrics.val_acc > 0.5 and params.optimizer = 'adam'",
            order_by=["metrics.val_acc DESC"],
            max_results=runs,
        )
        out["filtered"].append((time.perf_counter() - t0) * 1000)
        assert len(found) > 0
    return out


def main():
    workload = sys.argv[1]
    client = MlflowClient()
    points = arg("--points", 10_000)
    runs = arg("--runs", 1000)
    repeats = arg("--repeats", 3)
    if workload == "log_metric":
        result = log_metric(client, points, repeats)
    elif workload == "log_batch":
        result = log_batch(client, points, repeats)
    elif workload == "search_setup":
        result = search_setup(client, runs)
    elif workload == "search":
        result = search(client, runs, repeats)
    else:
        raise SystemExit(f"unknown workload {workload}")
    print(json.dumps({"workload": workload, "ms": result}))


if __name__ == "__main__":
    main()
