#!/usr/bin/env python3
"""An independent timing loop in Python onnxruntime, for bench/agreement.mjs.

Reads one JSON job on stdin: {"model", "threads", "warmup", "iterations", "inputs": [{"name", "type", "dims",
"fill"}]} (the inputs as `modelctl bench --json` reports them), makes inputs of those shapes and types with numpy,
times `session.run` with time.perf_counter, and prints {"p50", "mean", "count", "onnxruntime"} in milliseconds.
Percentiles are numpy's default (linear interpolation), the method modelctl bench uses.
"""
import json
import re
import sys
import time

import numpy as np
import onnxruntime as ort

DTYPES = {
    "float32": np.float32, "float64": np.float64, "float16": np.float16, "int8": np.int8, "uint8": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
    "uint64": np.uint64, "bool": np.bool_,
}


def make(spec, rng):
    dims, dtype, fill = spec["dims"], DTYPES[spec["type"]], spec["fill"]
    m = re.match(r"token ids in \[0, (\d+)\)", fill) or re.match(r"uniform integers in \[(-?\d+), (-?\d+)[\])]", fill)
    if fill.startswith("ones") or fill.startswith("true"):
        return np.ones(dims, dtype=dtype)
    if fill.startswith("zeros"):
        return np.zeros(dims, dtype=dtype)
    if fill.startswith("positions"):
        return np.broadcast_to(np.arange(dims[-1]), dims).astype(dtype)
    if fill.startswith("token ids"):
        return rng.integers(0, int(m.group(1)), size=dims).astype(dtype)
    if fill.startswith("uniform integers"):
        high = int(m.group(2)) + (1 if fill.rstrip().endswith("]") else 0)
        return rng.integers(int(m.group(1)), high, size=dims).astype(dtype)
    if fill.startswith("random booleans"):
        return rng.random(dims) < 0.5
    return rng.random(dims).astype(dtype)


def main():
    job = json.load(sys.stdin)
    options = ort.SessionOptions()
    if job["threads"]:
        options.intra_op_num_threads = job["threads"]
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(job["model"], options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(42)
    feeds = {spec["name"]: make(spec, rng) for spec in job["inputs"]}
    fetch = [o.name for o in session.get_outputs() if o.type.startswith("tensor")]
    for _ in range(job["warmup"]):
        session.run(fetch, feeds)
    samples = []
    for _ in range(job["iterations"]):
        t0 = time.perf_counter()
        session.run(fetch, feeds)
        samples.append((time.perf_counter() - t0) * 1000)
    a = np.array(samples)
    print(json.dumps({"p50": float(np.percentile(a, 50)), "mean": float(a.mean()), "count": len(samples), "onnxruntime": ort.__version__}))


if __name__ == "__main__":
    main()
