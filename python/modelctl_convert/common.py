"""What every family shares: sample inputs, ONNX Runtime runs, the comparison, and the optional post-passes."""
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .events import conversion, require, usage


@dataclass
class Converted:
    """What a family's converter hands back to export.py."""

    converter: str
    converter_version: str
    framework: str
    framework_version: str
    task: Optional[str]
    # Runs the source and ONNX Runtime on the same samples: returns the validation record (see compare()).
    validate: Callable[[str], dict]
    features: Optional[list] = None
    extra: dict = field(default_factory=dict)


def load_samples(path):
    """--sample-input: .npy (one array), .npz (named arrays), .json (a list, or an object of named lists), .csv."""
    np = require("numpy", "base")
    if not os.path.exists(path):
        raise usage(f"--sample-input {path}: no such file")
    lower = path.lower()
    if lower.endswith(".npy"):
        return np.load(path, allow_pickle=False)
    if lower.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if lower.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    if lower.endswith(".csv"):
        import csv

        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        if len(rows) < 2:
            raise usage(f"--sample-input {path}: a CSV needs a header and at least one row")
        try:
            return np.array([[float(v) for v in r] for r in rows[1:] if r], dtype=np.float64)
        except ValueError as e:
            raise usage(f"--sample-input {path}: {e}") from e
    raise usage(f"--sample-input {path}: give a .npy, .npz, .json or .csv file")


def ort_session(onnx_path):
    ort = require("onnxruntime", "base")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])


def run_onnx(onnx_path, feeds):
    session = ort_session(onnx_path)
    names = [o.name for o in session.get_outputs()]
    return names, session.run(None, feeds)


def max_abs_diff(expected, actual):
    np = require("numpy", "base")
    a = np.asarray(expected, dtype=np.float64)
    b = np.asarray(actual, dtype=np.float64)
    if a.size != b.size:
        raise conversion(f"validation: the source gives {a.size} values ({a.shape}) but the ONNX model {b.size} ({b.shape})")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a.reshape(-1) - b.reshape(-1))))


def record(pairs, samples, **extra):
    """pairs: [(output name, source values, onnx values)] -> the validation record export.py reports."""
    outputs = {name: max_abs_diff(src, onx) for name, src, onx in pairs}
    return {"max_abs_diff": max(outputs.values()) if outputs else 0.0, "outputs": outputs, "samples": samples, **extra}


def version_of(module_name):
    try:
        from importlib.metadata import version

        return version(module_name)
    except Exception:
        return "unknown"


def optimize(onnx_path, level):
    """--optimize O1|O2|O3: ONNX Runtime's own graph optimizations (basic, extended, all), saved offline."""
    ort = require("onnxruntime", "base")
    levels = {
        "O1": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "O2": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "O3": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[level]
    tmp = onnx_path + ".opt.onnx"
    options.optimized_model_filepath = tmp
    ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    os.replace(tmp, onnx_path)


def quantize(onnx_path, mode):
    """--quantize int8 (dynamic quantization of the weights) or fp16 (float16 weights, float32 inputs and outputs)."""
    onnx = require("onnx", "base")
    tmp = onnx_path + ".q.onnx"
    if mode == "int8":
        qz = require("onnxruntime.quantization", "base")
        qz.quantize_dynamic(onnx_path, tmp, weight_type=qz.QuantType.QInt8)
    else:
        f16 = require("onnxruntime.transformers.float16", "base")
        model = f16.convert_float_to_float16(onnx.load(onnx_path), keep_io_types=True)
        onnx.save(model, tmp)
    os.replace(tmp, onnx_path)


def opset_of(onnx_path):
    onnx = require("onnx", "base")
    model = onnx.load(onnx_path, load_external_data=False)
    return {(o.domain or "ai.onnx"): o.version for o in model.opset_import}


def as_float_matrix(samples: Any, n_features, n_rows=16, seed=0):
    """Rows for a tabular model: the given samples, else a fixed random draw (standard normal) of n_rows."""
    np = require("numpy", "base")
    if samples is None:
        return np.random.default_rng(seed).normal(size=(n_rows, n_features)).astype(np.float32)
    if isinstance(samples, dict):
        raise usage("--sample-input: a tabular model takes rows (a list of lists, .npy or .csv), not named arrays")
    try:
        x = np.asarray(samples, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise usage(f"--sample-input: rows of numbers expected ({e})") from e
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.ndim != 2 or (n_features and x.shape[1] != n_features):
        raise usage(f"--sample-input: rows of {n_features} features expected, got shape {list(x.shape)}")
    return x
